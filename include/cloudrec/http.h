/*
 * cloudrec/http.h - HTTP types shared by the signer and the transport.
 *
 * Only plain data lives here; the transport itself is internal (libcurl stays
 * behind the library's boundary).
 */
#ifndef CLOUDREC_HTTP_H
#define CLOUDREC_HTTP_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * One HTTP header field. Both strings are NUL-terminated; whoever fills the
 * struct says how long they stay valid. A name may appear more than once in a
 * list, in which case the order of the entries is the order on the wire.
 */
struct cr_http_header {
    const char *name;
    const char *value;
};

#ifdef __cplusplus
}
#endif
#endif
