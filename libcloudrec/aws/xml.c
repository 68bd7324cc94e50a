/*
 * xml.c - the library's only libxml2 user: parses AWS answers into a tree
 * that the rest of the library reads by local name.
 *
 * Untrusted input rules: the size is checked before parsing; XML_PARSE_NONET
 * forbids network access; XML_PARSE_NOENT is never set, and a document type
 * declaration stops the parser, so no entity (internal or external) can be
 * expanded; libxml2's default depth and text limits stay on (no
 * XML_PARSE_HUGE); errors go to a silent handler instead of stderr.
 */
#include "aws/xml.h"
#include "internal.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct cr__xml_doc {
    xmlDocPtr doc;
};

static pthread_once_t g_xml_once = PTHREAD_ONCE_INIT;

/* xmlInitParser must run once before threads parse concurrently. */
static void xml_init_once(void)
{
    xmlInitParser();
}

/* Structured error handler that drops libxml2's messages: the library never
 * prints. The caller reports a failure through cr_error instead. */
static void silent_error(void *userdata, xmlErrorPtr error)
{
    (void)userdata;
    (void)error;
}

/* SAX hook for <!DOCTYPE ...>: AWS never sends one, and refusing it here is
 * what rules out entity expansion of every kind. */
static void refuse_dtd(void *ctx, const xmlChar *name, const xmlChar *external_id,
                       const xmlChar *system_id)
{
    (void)name;
    (void)external_id;
    (void)system_id;
    xmlParserCtxtPtr ctxt = ctx;
    ctxt->_private = (void *)1;
    xmlStopParser(ctxt);
}

/* Runs the parser over the bytes with the hooks above installed. */
static xmlDocPtr parse_bytes(const void *data, size_t len, int *had_dtd)
{
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt)
        return NULL;
    ctxt->sax->internalSubset = refuse_dtd;
    ctxt->sax->externalSubset = refuse_dtd;
    ctxt->sax->serror = silent_error;
    ctxt->sax->error = NULL;
    ctxt->sax->warning = NULL;
    ctxt->_private = NULL;
    int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
    xmlDocPtr doc = xmlCtxtReadMemory(ctxt, data, (int)len, NULL, NULL, options);
    *had_dtd = ctxt->_private != NULL;
    int refused = *had_dtd || ctxt->errNo == XML_ERR_USER_STOP || !ctxt->wellFormed;
    if (doc && (refused || doc->intSubset || doc->extSubset)) {
        xmlFreeDoc(doc);
        doc = NULL;
    }
    xmlFreeParserCtxt(ctxt);
    return doc;
}

cr_status cr__xml_parse(const void *data, size_t len, size_t max_bytes, struct cr__xml_doc **out,
                        struct cr_error *err)
{
    *out = NULL;
    size_t limit = max_bytes ? max_bytes : CR__XML_DEFAULT_MAX_BYTES;
    if (len > limit || len > (size_t)INT32_MAX)
        return cr__fail(err, CR_ERR_TOO_LARGE, "XML document of %zu bytes is over the limit %zu",
                        len, limit);
    if (!data || len == 0)
        return cr__fail(err, CR_ERR_FORMAT, "empty XML document");
    pthread_once(&g_xml_once, xml_init_once);
    struct cr__xml_doc *d = calloc(1, sizeof(*d));
    if (!d)
        return cr__fail(err, CR_ERR_NOMEM, "out of memory for an XML document");
    int had_dtd = 0;
    d->doc = parse_bytes(data, len, &had_dtd);
    if (!d->doc || !xmlDocGetRootElement(d->doc)) {
        cr__xml_free(d);
        return cr__fail(err, CR_ERR_FORMAT, had_dtd ? "XML document declares a DTD (refused)"
                                                    : "malformed XML document");
    }
    *out = d;
    return CR_OK;
}

void cr__xml_free(struct cr__xml_doc *doc)
{
    if (!doc)
        return;
    if (doc->doc)
        xmlFreeDoc(doc->doc);
    free(doc);
}

/* The node handles handed out are libxml2 element nodes, cast. */
static xmlNodePtr X(const struct cr__xml_node *n)
{
    return (xmlNodePtr)(void *)n;
}

/* ... and back. */
static const struct cr__xml_node *N(xmlNodePtr n)
{
    return (const struct cr__xml_node *)(void *)n;
}

const struct cr__xml_node *cr__xml_root(const struct cr__xml_doc *doc)
{
    return doc ? N(xmlDocGetRootElement(doc->doc)) : NULL;
}

const char *cr__xml_name(const struct cr__xml_node *node)
{
    return node ? (const char *)X(node)->name : "";
}

/* True when n is an element with the wanted local name (NULL = any). */
static int matches(xmlNodePtr n, const char *local_name)
{
    return n->type == XML_ELEMENT_NODE &&
           (!local_name || strcmp((const char *)n->name, local_name) == 0);
}

/* First element at or after n among its siblings that matches. */
static xmlNodePtr scan_siblings(xmlNodePtr n, const char *local_name)
{
    for (; n; n = n->next)
        if (matches(n, local_name))
            return n;
    return NULL;
}

const struct cr__xml_node *cr__xml_child(const struct cr__xml_node *parent,
                                         const char *local_name)
{
    return parent ? N(scan_siblings(X(parent)->children, local_name)) : NULL;
}

const struct cr__xml_node *cr__xml_next(const struct cr__xml_node *node, const char *local_name)
{
    return node ? N(scan_siblings(X(node)->next, local_name)) : NULL;
}

/* The node after n in a depth-first walk of the subtree rooted at top. */
static xmlNodePtr walk_next(xmlNodePtr top, xmlNodePtr n)
{
    if (n->children && n->type == XML_ELEMENT_NODE)
        return n->children;
    while (n && n != top) {
        if (n->next)
            return n->next;
        n = n->parent;
    }
    return NULL;
}

const struct cr__xml_node *cr__xml_find_next(const struct cr__xml_node *under,
                                             const struct cr__xml_node *prev,
                                             const char *local_name)
{
    if (!under || !prev)
        return NULL;
    xmlNodePtr top = X(under);
    for (xmlNodePtr n = walk_next(top, X(prev)); n; n = walk_next(top, n))
        if (matches(n, local_name))
            return N(n);
    return NULL;
}

const struct cr__xml_node *cr__xml_find(const struct cr__xml_node *under, const char *local_name)
{
    return cr__xml_find_next(under, under, local_name);
}

char *cr__xml_text(const struct cr__xml_node *node)
{
    if (!node)
        return NULL;
    xmlChar *content = xmlNodeGetContent(X(node));
    char *copy = strdup(content ? (const char *)content : "");
    xmlFree(content);
    return copy;
}

char *cr__xml_child_text(const struct cr__xml_node *parent, const char *local_name)
{
    const struct cr__xml_node *c = cr__xml_child(parent, local_name);
    return c ? cr__xml_text(c) : NULL;
}

int cr__xml_find_text_copy(const struct cr__xml_node *under, const char *local_name, char *dst,
                           size_t n)
{
    if (n)
        dst[0] = '\0';
    char *text = cr__xml_text(cr__xml_find(under, local_name));
    if (!text)
        return 0;
    cr__strlcpy(dst, text, n);
    free(text);
    return 1;
}
