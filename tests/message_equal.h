/*
 * message_equal.h - field-by-field equality of queue messages
 * (pipeline/message.h), for the tests and the fuzz target that check a
 * message survives encode and decode. Struct padding is never compared.
 */
#ifndef CLOUDREC_TESTS_MESSAGE_EQUAL_H
#define CLOUDREC_TESTS_MESSAGE_EQUAL_H

#include "pipeline/message.h"

#include <string.h>

/* True when every field of the two requests is equal. */
static inline int same_request(const struct cr_request_msg *a, const struct cr_request_msg *b)
{
    return strcmp(a->id, b->id) == 0 && strcmp(a->name, b->name) == 0 &&
           strcmp(a->input, b->input) == 0 && strcmp(a->key, b->key) == 0 &&
           strcmp(a->reply, b->reply) == 0 && a->enqueued_ms == b->enqueued_ms;
}

/* True when every field of the two responses is equal, the top-k included
 * (probabilities exactly). */
static inline int same_response(const struct cr_response_msg *a, const struct cr_response_msg *b)
{
    if (strcmp(a->id, b->id) || strcmp(a->name, b->name) || strcmp(a->label, b->label) ||
        a->num_top != b->num_top || strcmp(a->worker, b->worker) ||
        a->processing_ms != b->processing_ms || strcmp(a->error, b->error))
        return 0;
    for (int i = 0; i < a->num_top; i++)
        if (strcmp(a->top[i].label, b->top[i].label) ||
            a->top[i].probability != b->top[i].probability)
            return 0;
    return 1;
}

#endif
