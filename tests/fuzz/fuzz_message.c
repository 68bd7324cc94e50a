/*
 * fuzz_message.c - the queue message decoders (include/cloudrec/message.h),
 * cr__request_msg_decode and cr__response_msg_decode, on any bytes: what a
 * worker and the web tier read from a queue anyone with access can write to.
 *
 * Beyond "never crash, never leak": a message that decodes encodes again,
 * and decoding that encoding gives the same message (the reader and the
 * writer agree on the format), and a failed decode leaves the struct zeroed.
 */
#include "fuzz.h"
#include "message_equal.h"

#include "pipeline/message.h"

#include <string.h>

static int is_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

static void request_round_trip(const char *json, size_t len)
{
    struct cr_request_msg m, again;
    if (cr__request_msg_decode(json, len, &m, NULL) != CR_OK) {
        FUZZ_REQUIRE(is_zero(&m, sizeof(m)), "a failed request decode leaves it zeroed");
        return;
    }
    struct cr_buf out;
    cr_buf_init(&out, 0);
    FUZZ_REQUIRE(cr__request_msg_encode(&m, &out) == CR_OK, "a decoded request encodes");
    FUZZ_REQUIRE(cr__request_msg_decode((const char *)out.data, out.len, &again, NULL) == CR_OK,
                 "an encoded request decodes");
    FUZZ_REQUIRE(same_request(&m, &again), "a request survives encode and decode");
    cr_buf_clear(&out);
}

static void response_round_trip(const char *json, size_t len)
{
    struct cr_response_msg m, again;
    if (cr__response_msg_decode(json, len, &m, NULL) != CR_OK) {
        FUZZ_REQUIRE(is_zero(&m, sizeof(m)), "a failed response decode leaves it zeroed");
        return;
    }
    struct cr_buf out;
    cr_buf_init(&out, 0);
    FUZZ_REQUIRE(cr__response_msg_encode(&m, &out) == CR_OK, "a decoded response encodes");
    FUZZ_REQUIRE(cr__response_msg_decode((const char *)out.data, out.len, &again, NULL) == CR_OK,
                 "an encoded response decodes");
    FUZZ_REQUIRE(same_response(&m, &again), "a response survives encode and decode");
    cr_buf_clear(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    request_round_trip((const char *)data, size);
    response_round_trip((const char *)data, size);
    return 0;
}
