/*
 * credentials.c - the static part of the AWS configuration chain: region,
 * explicit keys, environment variables and the shared credentials/config
 * files. No network I/O here; instance metadata is aws/imds.c.
 *
 * Every copy of a secret made here (file contents, parsed values) is wiped
 * before its memory is released.
 */
#include "aws/aws_impl.h"
#include "internal.h"

#include <ctype.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Shared files larger than this are refused rather than read. */
#define PROFILE_FILE_MAX_BYTES ((size_t)1024 * 1024)

/* Wipes and frees a NUL-terminated string. Accepts NULL. */
static void wipe_str(char *s)
{
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

/* Replaces *slot with a copy of value, wiping the old string. */
static cr_status replace_str(char **slot, const char *value)
{
    char *copy = NULL;
    if (value && !(copy = strdup(value)))
        return CR_ERR_NOMEM;
    wipe_str(*slot);
    *slot = copy;
    return CR_OK;
}

void cr__aws_creds_wipe(struct cr__aws_creds *c)
{
    if (!c)
        return;
    wipe_str(c->access_key_id);
    wipe_str(c->secret_access_key);
    wipe_str(c->session_token);
    memset(c, 0, sizeof(*c));
}

cr_status cr__aws_creds_set(struct cr__aws_creds *c, const char *id, const char *secret,
                            const char *token, int64_t expiration_s, const char *source)
{
    struct cr__aws_creds n = {.expiration_s = expiration_s};
    cr__strlcpy(n.source, source ? source : "", sizeof(n.source));
    if (replace_str(&n.access_key_id, id) != CR_OK ||
        replace_str(&n.secret_access_key, secret) != CR_OK ||
        replace_str(&n.session_token, token && token[0] ? token : NULL) != CR_OK) {
        cr__aws_creds_wipe(&n);
        return CR_ERR_NOMEM;
    }
    cr__aws_creds_wipe(c);
    *c = n;
    return CR_OK;
}

void cr__aws_profile_wipe(struct cr__aws_profile *p)
{
    if (!p)
        return;
    wipe_str(p->access_key_id);
    wipe_str(p->secret_access_key);
    wipe_str(p->session_token);
    wipe_str(p->region);
    memset(p, 0, sizeof(*p));
}

void cr__aws_resolved_wipe(struct cr__aws_resolved *r)
{
    if (!r)
        return;
    cr__aws_creds_wipe(&r->creds);
    memset(r, 0, sizeof(*r));
}

/* An environment variable, or NULL when unset or empty. */
static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

/* ---- the INI dialect of the shared files ---------------------------------- */

/* Whether the section header text (between the brackets) names profile. In
 * a config file profiles are "[profile NAME]", except the default, which
 * may also be "[default]". */
static int section_is(const char *section, int config_style, const char *name)
{
    if (!config_style)
        return strcmp(section, name) == 0;
    if (strcmp(section, "default") == 0)
        return strcmp(name, "default") == 0;
    if (strncmp(section, "profile", 7) != 0 || (section[7] != ' ' && section[7] != '\t'))
        return 0;
    const char *p = section + 7;
    while (*p == ' ' || *p == '\t')
        p++;
    return strcmp(p, name) == 0;
}

/* Stores key=value into the profile when the key is one we use. */
static cr_status profile_set(struct cr__aws_profile *out, const char *key, const char *value)
{
    if (strcasecmp(key, "aws_access_key_id") == 0)
        return replace_str(&out->access_key_id, value);
    if (strcasecmp(key, "aws_secret_access_key") == 0)
        return replace_str(&out->secret_access_key, value);
    if (strcasecmp(key, "aws_session_token") == 0 || strcasecmp(key, "aws_security_token") == 0)
        return replace_str(&out->session_token, value);
    if (strcasecmp(key, "region") == 0)
        return replace_str(&out->region, value);
    return CR_OK;
}

/* State carried from line to line while parsing one file. */
struct ini_state {
    int in_profile;      /* inside a section for the wanted profile */
    int after_empty_key; /* the previous key had no value: nested block */
};

/* Handles one line (NUL-terminated, modifiable). */
static cr_status ini_line(char *raw, struct ini_state *st, int config_style, const char *name,
                          struct cr__aws_profile *out)
{
    int indented = raw[0] == ' ' || raw[0] == '\t';
    char *line = cr__trim(raw);
    if (!line[0] || line[0] == '#' || line[0] == ';')
        return CR_OK;
    if (indented)
        return CR_OK; /* a nested sub-setting or a continuation: not ours */
    if (line[0] == '[') {
        char *end = strrchr(line, ']');
        if (!end)
            return CR_OK;
        *end = '\0';
        st->in_profile = section_is(cr__trim(line + 1), config_style, name);
        out->found |= st->in_profile;
        st->after_empty_key = 0;
        return CR_OK;
    }
    size_t k = strcspn(line, "=:");
    if (!line[k])
        return CR_OK;
    line[k] = '\0';
    char *key = cr__trim(line), *value = cr__trim(line + k + 1);
    st->after_empty_key = value[0] == '\0';
    return st->in_profile && value[0] ? profile_set(out, key, value) : CR_OK;
}

cr_status cr__aws_profile_parse(const char *text, size_t len, int config_style, const char *name,
                                struct cr__aws_profile *out)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return CR_ERR_NOMEM;
    memcpy(copy, text, len);
    copy[len] = '\0';
    struct ini_state st = {0};
    cr_status rc = CR_OK;
    for (char *line = copy; line && rc == CR_OK;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        rc = ini_line(line, &st, config_style, name, out);
        line = nl ? nl + 1 : NULL;
    }
    explicit_bzero(copy, len + 1);
    free(copy);
    return rc;
}

/* ---- locating and reading the files ---------------------------------------- */

/* The home directory: $HOME, else the password database. */
static cr_status home_dir(struct cr_buf *out)
{
    const char *home = env("HOME");
    if (home)
        return cr__buf_append_str(out, home);
    struct passwd pw, *res = NULL;
    char tmp[4096];
    if (getpwuid_r(getuid(), &pw, tmp, sizeof(tmp), &res) != 0 || !res)
        return CR_ERR_NOT_FOUND;
    return cr__buf_append_str(out, pw.pw_dir);
}

/* The path of a shared file: the variable's value (a leading "~/" means the
 * home directory) or ~/.aws/<leaf>. */
static cr_status shared_path(const char *var, const char *leaf, struct cr_buf *out)
{
    const char *v = env(var);
    if (v && strncmp(v, "~/", 2) != 0)
        return cr__buf_append_str(out, v);
    cr_status st = home_dir(out);
    if (st != CR_OK)
        return st;
    return v ? cr__buf_append_str(out, v + 1) : cr__buf_appendf(out, "/.aws/%s", leaf);
}

/* Reads one shared file and merges the profile's values from it. A missing
 * file is not an error; an unreadable one is (detail names the path). */
static cr_status load_file(const char *var, const char *leaf, int config_style, const char *name,
                           struct cr__aws_profile *out, struct cr_error *err)
{
    struct cr_buf path, text;
    cr_buf_init(&path, 4096);
    cr_buf_init(&text, PROFILE_FILE_MAX_BYTES);
    cr_status st = shared_path(var, leaf, &path);
    if (st == CR_ERR_NOT_FOUND) {
        st = CR_OK; /* no home directory: no shared files */
        goto out;
    }
    if (st != CR_OK)
        goto out;
    st = cr__file_read((const char *)path.data, PROFILE_FILE_MAX_BYTES, &text, err);
    if (st == CR_ERR_NOT_FOUND) {
        st = CR_OK;
        goto out;
    }
    if (st == CR_OK)
        st = cr__aws_profile_parse((const char *)text.data, text.len, config_style, name, out);
out:
    if (text.data)
        explicit_bzero(text.data, text.cap);
    cr_buf_clear(&text);
    cr_buf_clear(&path);
    return st;
}

/* Reads profile name from both shared files. The credentials file wins for
 * keys (it is read last), the region comes from either. */
static cr_status load_profile(const char *name, struct cr__aws_profile *out, struct cr_error *err)
{
    cr_status st = load_file("AWS_CONFIG_FILE", "config", 1, name, out, err);
    if (st == CR_OK)
        st = load_file("AWS_SHARED_CREDENTIALS_FILE", "credentials", 0, name, out, err);
    if (st != CR_OK && st != CR_ERR_IO && st != CR_ERR_TOO_LARGE)
        return cr__fail(err, st, "reading AWS profile '%s': %s", name, cr_strerror(st));
    return st;
}

/* ---- the chain -------------------------------------------------------------- */

/* A region is a short lower-case token; anything else is refused before it
 * can reach a host name. */
static int region_valid(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n > 40)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)r[i]) && !isdigit((unsigned char)r[i]) && r[i] != '-')
            return 0;
    return 1;
}

/* Region: option, AWS_REGION, AWS_DEFAULT_REGION, the profile's region. */
static cr_status resolve_region(const struct cr_aws_options *o, const struct cr__aws_profile *p,
                                struct cr__aws_resolved *out, struct cr_error *err)
{
    const char *r = o->region && o->region[0] ? o->region : env("AWS_REGION");
    if (!r)
        r = env("AWS_DEFAULT_REGION");
    if (!r)
        r = p->region;
    if (!r)
        return cr__fail(err, CR_ERR_INVALID,
                        "no AWS region: set AWS_REGION or the region of profile '%s'",
                        out->profile);
    if (!region_valid(r))
        return cr__fail(err, CR_ERR_INVALID, "invalid AWS region '%.64s'", r);
    cr__strlcpy(out->region, r, sizeof(out->region));
    return CR_OK;
}

/* Takes both keys or neither; one alone is a configuration mistake worth
 * reporting rather than silently skipping. */
static cr_status take_pair(const char *id, const char *secret, const char *token,
                           const char *source, struct cr__aws_creds *out, struct cr_error *err)
{
    if (!id && !secret)
        return CR_ERR_NOT_FOUND;
    if (!id || !secret || !id[0] || !secret[0])
        return cr__fail(err, CR_ERR_AUTH, "%s: an access key id needs a secret access key and "
                                          "the other way round", source);
    if (cr__aws_creds_set(out, id, secret, token, 0, source) != CR_OK)
        return cr__fail(err, CR_ERR_NOMEM, "out of memory for credentials");
    return CR_OK;
}

/* Credentials from a profile that the user asked for by name (or the
 * default one, which may legitimately hold none). */
static cr_status from_profile(const struct cr__aws_profile *p, const char *name, int named,
                              struct cr__aws_creds *out, struct cr_error *err)
{
    if (!p->found) {
        if (!named)
            return CR_ERR_NOT_FOUND;
        return cr__fail(err, CR_ERR_AUTH, "AWS profile '%s' not found in the shared "
                                          "credentials or config file", name);
    }
    char source[96];
    snprintf(source, sizeof(source), "profile:%s", name);
    cr_status st = take_pair(p->access_key_id, p->secret_access_key, p->session_token, source,
                             out, err);
    if (st == CR_ERR_NOT_FOUND && named)
        return cr__fail(err, CR_ERR_AUTH, "AWS profile '%s' has no aws_access_key_id and "
                                          "aws_secret_access_key (role_arn, sso and "
                                          "credential_process are not supported)", name);
    return st;
}

/* The credential part of the chain, in order; CR_ERR_NOT_FOUND when none of
 * the static sources has credentials. */
static cr_status resolve_creds(const struct cr_aws_options *o, const struct cr__aws_profile *p,
                               int profile_named, struct cr__aws_resolved *out,
                               struct cr_error *err)
{
    cr_status st = take_pair(o->access_key_id, o->secret_access_key, o->session_token,
                             "explicit", &out->creds, err);
    if (st != CR_ERR_NOT_FOUND)
        return st;
    if (o->profile && o->profile[0])
        return from_profile(p, out->profile, 1, &out->creds, err);
    st = take_pair(env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"),
                   env("AWS_SESSION_TOKEN"), "environment", &out->creds, err);
    if (st != CR_ERR_NOT_FOUND)
        return st;
    return from_profile(p, out->profile, profile_named, &out->creds, err);
}

/* IMDS: on unless the option or AWS_EC2_METADATA_DISABLED=true says no. */
static void resolve_imds(const struct cr_aws_options *o, struct cr__aws_resolved *out)
{
    const char *disabled = env("AWS_EC2_METADATA_DISABLED");
    out->imds_enabled = !o->imds_disabled && !(disabled && strcasecmp(disabled, "true") == 0);
    const char *ep = o->imds_endpoint && o->imds_endpoint[0]
                         ? o->imds_endpoint
                         : env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    cr__strlcpy(out->imds_endpoint, ep ? ep : CR__IMDS_DEFAULT_ENDPOINT,
                sizeof(out->imds_endpoint));
    size_t n = strlen(out->imds_endpoint);
    while (n > 0 && out->imds_endpoint[n - 1] == '/')
        out->imds_endpoint[--n] = '\0';
}

cr_status cr__aws_resolve(const struct cr_aws_options *opts, struct cr__aws_resolved *out,
                          struct cr_error *err)
{
    static const struct cr_aws_options defaults;
    const struct cr_aws_options *o = opts ? opts : &defaults;
    memset(out, 0, sizeof(*out));
    const char *name = o->profile && o->profile[0] ? o->profile : env("AWS_PROFILE");
    int named = name != NULL;
    if (name && strlen(name) >= sizeof(out->profile))
        return cr__fail(err, CR_ERR_INVALID, "AWS profile name is too long");
    cr__strlcpy(out->profile, name ? name : "default", sizeof(out->profile));
    struct cr__aws_profile p = {0};
    cr_status st = load_profile(out->profile, &p, err);
    if (st == CR_OK)
        st = resolve_region(o, &p, out, err);
    if (st == CR_OK) {
        st = resolve_creds(o, &p, named, out, err);
        if (st == CR_ERR_NOT_FOUND)
            st = CR_OK; /* the chain goes on at instance metadata */
    }
    resolve_imds(o, out);
    cr__aws_profile_wipe(&p);
    return st;
}
