/* LD_PRELOAD shim for wrk in the new-TLS-connections test.
 *
 * wrk reconnects with SSL_shutdown + SSL_clear on the same SSL object, and SSL_clear keeps the
 * session, so every reconnect offers it for resumption (a TLS 1.3 PSK from the ticket). Peers
 * that issue tickets would then mostly do abbreviated handshakes, while the origin (tickets
 * off) always does full ones. Dropping the session after SSL_clear makes every new connection
 * a full handshake, for every peer alike. Client options cannot do this: OpenSSL ignores
 * SSL_OP_NO_TICKET on a TLS 1.3 client.
 *
 * Built by bench/load.ts: gcc -shared -fPIC -O2 -o no-resume.so no-resume.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

typedef struct ssl_st SSL;

/* Both looked up at run time, so the shim has no undefined symbols of its own. */
int SSL_clear(SSL *s) {
    static int (*real_clear)(SSL *) = NULL;
    static int (*set_session)(SSL *, void *) = NULL;
    if (real_clear == NULL) real_clear = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_clear");
    if (set_session == NULL) set_session = (int (*)(SSL *, void *))dlsym(RTLD_DEFAULT, "SSL_set_session");
    int ok = real_clear(s);
    if (ok == 1 && set_session != NULL) set_session(s, NULL);
    return ok;
}
