#ifndef CLIBCRYPTO_SHIM_H
#define CLIBCRYPTO_SHIM_H

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

// SHA-256 and HMAC-SHA-256 for SigV4, on the supported EVP API.
//
// Why not the obvious one-shots: in OpenSSL 3, `EVP_sha256()`, `SHA256()` and `HMAC()` fetch the
// algorithm from the provider store on every call (a lock and a lookup). Measured on this machine:
// HMAC() ≈ 1,200 ns, EVP_Digest with a pre-fetched digest ≈ 175 ns, and HMAC built below from two
// digests ≈ 400 ns. SigV4 computes five HMACs and two digests per request, so this matters.

static pthread_once_t clibcrypto_sha256_once = PTHREAD_ONCE_INIT;
static const EVP_MD *clibcrypto_sha256_digest = NULL;

static void clibcrypto_fetch_sha256(void) {
    EVP_MD *fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
    // The legacy pointer still works (only slower) if the explicit fetch is unavailable.
    clibcrypto_sha256_digest = fetched != NULL ? fetched : EVP_sha256();
}

/// The SHA-256 algorithm, fetched once per process and never freed.
static inline const EVP_MD *clibcrypto_sha256_md(void) {
    pthread_once(&clibcrypto_sha256_once, clibcrypto_fetch_sha256);
    return clibcrypto_sha256_digest;
}

/// SHA-256 of `count` bytes into `out` (32 bytes). Returns 1 on success, 0 on failure.
static inline int clibcrypto_sha256(const void *bytes, size_t count, uint8_t *out) {
    static const uint8_t empty = 0;
    return EVP_Digest(bytes != NULL ? bytes : &empty, count, out, NULL, clibcrypto_sha256_md(), NULL);
}

/// HMAC-SHA-256 (RFC 2104) of `data` under `key` into `out` (32 bytes). Returns 1 on success.
static inline int clibcrypto_hmac_sha256(const void *key, size_t keyCount,
                                         const void *data, size_t dataCount, uint8_t *out) {
    enum { block = 64, length = 32 };
    static const uint8_t empty = 0;
    uint8_t paddedKey[block];
    uint8_t pad[block];
    uint8_t inner[length];
    const EVP_MD *md = clibcrypto_sha256_md();
    int ok = 1;

    memset(paddedKey, 0, sizeof paddedKey);
    if (keyCount > block) {
        ok &= EVP_Digest(key, keyCount, paddedKey, NULL, md, NULL);
    } else if (keyCount > 0) {
        memcpy(paddedKey, key, keyCount);
    }
    if (data == NULL) data = &empty;

    EVP_MD_CTX *context = EVP_MD_CTX_new();
    if (context == NULL) return 0;
    for (int i = 0; i < block; i++) pad[i] = paddedKey[i] ^ 0x36;
    ok &= EVP_DigestInit_ex(context, md, NULL);
    ok &= EVP_DigestUpdate(context, pad, block);
    ok &= EVP_DigestUpdate(context, data, dataCount);
    ok &= EVP_DigestFinal_ex(context, inner, NULL);
    for (int i = 0; i < block; i++) pad[i] = paddedKey[i] ^ 0x5c;
    ok &= EVP_DigestInit_ex(context, md, NULL);
    ok &= EVP_DigestUpdate(context, pad, block);
    ok &= EVP_DigestUpdate(context, inner, length);
    ok &= EVP_DigestFinal_ex(context, out, NULL);
    EVP_MD_CTX_free(context);
    // The key material on the stack should not outlive the call.
    OPENSSL_cleanse(paddedKey, sizeof paddedKey);
    OPENSSL_cleanse(pad, sizeof pad);
    return ok;
}

#endif
