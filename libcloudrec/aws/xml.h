/*
 * xml.h - internal, read-only access to AWS XML answers (aws/xml.c is the
 * library's only libxml2 user).
 *
 * Parsing is safe for untrusted input: bounded size, no network access, no
 * DTD (a document that declares one is refused, so no entity can expand),
 * no output on stderr. Elements are matched by local name, since S3, SQS and
 * EC2 each use their own namespace (or none). Nodes are borrowed from their
 * document and valid until cr__xml_free. Not thread-safe per document;
 * separate documents may be used from separate threads.
 *
 * Typical use:
 *
 *   struct cr__xml_doc *doc;
 *   if (cr__xml_parse(body, len, 0, &doc, err) != CR_OK) return ...;
 *   const struct cr__xml_node *root = cr__xml_root(doc);
 *   for (const struct cr__xml_node *c = cr__xml_child(root, "Contents"); c;
 *        c = cr__xml_next(c, "Contents")) {
 *       char *key = cr__xml_child_text(c, "Key");   // free() it
 *       ...
 *   }
 *   cr__xml_free(doc);
 */
#ifndef CLOUDREC_AWS_XML_H
#define CLOUDREC_AWS_XML_H

#include "cloudrec/core.h"

#include <stddef.h>

/* Default bound on the size of a document (cr__xml_parse with max_bytes 0). */
#define CR__XML_DEFAULT_MAX_BYTES ((size_t)16 * 1024 * 1024)

struct cr__xml_doc;
struct cr__xml_node;

/* Parses len bytes into *out (release with cr__xml_free). CR_ERR_TOO_LARGE
 * over max_bytes (0 = CR__XML_DEFAULT_MAX_BYTES), CR_ERR_FORMAT for anything
 * that is not a well-formed document without a DTD. */
cr_status cr__xml_parse(const void *data, size_t len, size_t max_bytes, struct cr__xml_doc **out,
                        struct cr_error *err);

/* Frees a document and all its nodes. Accepts NULL. */
void cr__xml_free(struct cr__xml_doc *doc);

/* The root element. */
const struct cr__xml_node *cr__xml_root(const struct cr__xml_doc *doc);

/* An element's local name ("Error" for <s3:Error>). */
const char *cr__xml_name(const struct cr__xml_node *node);

/* The first child element of parent named local_name (NULL = any), or NULL. */
const struct cr__xml_node *cr__xml_child(const struct cr__xml_node *parent,
                                         const char *local_name);

/* The next sibling element after node named local_name (NULL = any). */
const struct cr__xml_node *cr__xml_next(const struct cr__xml_node *node, const char *local_name);

/* The first element named local_name below under, depth first (under itself
 * excluded), or NULL. */
const struct cr__xml_node *cr__xml_find(const struct cr__xml_node *under, const char *local_name);

/* The element named local_name that follows prev in document order, still
 * below under; iterates every match in a subtree:
 *   for (n = cr__xml_find(root, "item"); n; n = cr__xml_find_next(root, n, "item")) */
const struct cr__xml_node *cr__xml_find_next(const struct cr__xml_node *under,
                                             const struct cr__xml_node *prev,
                                             const char *local_name);

/* The text content of node (all text below it, concatenated), malloc'd:
 * free() it. NULL on NOMEM or a NULL node. */
char *cr__xml_text(const struct cr__xml_node *node);

/* Text of the first child named local_name, malloc'd; NULL if absent. */
char *cr__xml_child_text(const struct cr__xml_node *parent, const char *local_name);

/* Copies the text of the first element named local_name below under into
 * dst (size n, truncated, NUL-terminated). Returns 1 if found, else 0 and
 * dst is "". */
int cr__xml_find_text_copy(const struct cr__xml_node *under, const char *local_name, char *dst,
                           size_t n);

#endif
