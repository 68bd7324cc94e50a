/*
 * setup.c - cr_setup (`cloudrec setup`): make the stores and queues of a
 * deployment exist, idempotently. The backends do the work through their
 * optional setup ops (backends/backend.h): an S3 bucket is created unless a
 * listing finds it, an SQS queue unless GetQueueUrl does; local backends
 * are opened with create.
 */
#include "backends/backend.h"
#include "cloudrec/service.h"

#include <string.h>

#define SETUP_DEFAULT_VISIBILITY_S 30
#define SETUP_DEFAULT_MAX_RECEIVES 5

/* The word for a setup op's *created. */
static const char *outcome(int created)
{
    return created > 0 ? "created" : created == 0 ? "exists" : "ready";
}

/* Sets up one store and reports it. */
static cr_status setup_store(const char *url, const char *what, cr_setup_report_fn report,
                             void *userdata, struct cr_error *err)
{
    int created = -1;
    cr_status st = cr__store_setup(url, &created, err);
    if (st != CR_OK)
        return cr__fail_prefix(err, st, "%s: ", what);
    if (report)
        report(userdata, url, what, outcome(created));
    return CR_OK;
}

/* Sets up one queue with attributes o and reports it. */
static cr_status setup_queue(const char *url, const char *what, const struct cr_queue_options *o,
                             cr_setup_report_fn report, void *userdata, struct cr_error *err)
{
    int created = -1;
    cr_status st = cr__queue_setup(url, o, &created, err);
    if (st != CR_OK)
        return cr__fail_prefix(err, st, "%s: ", what);
    if (report)
        report(userdata, url, what, outcome(created));
    return CR_OK;
}

/* Checks the options and fills the requests queue's attributes. */
static cr_status requests_options(const struct cr_setup_options *o, struct cr_queue_options *q,
                                  struct cr_error *err)
{
    if (o->visibility_s < 0 || o->max_receives < 0)
        return cr__fail(err, CR_ERR_INVALID, "setup: visibility and max receives must be >= 0");
    if (o->max_receives && !o->dead_letter_url)
        return cr__fail(err, CR_ERR_INVALID, "setup: max receives needs a dead-letter queue");
    if (o->dead_letter_url && !o->requests_url)
        return cr__fail(err, CR_ERR_INVALID, "setup: a dead-letter queue needs the requests queue");
    memset(q, 0, sizeof(*q));
    q->create = 1;
    q->visibility_timeout_s = o->visibility_s ? o->visibility_s : SETUP_DEFAULT_VISIBILITY_S;
    q->dead_letter_url = o->dead_letter_url;
    if (o->dead_letter_url)
        q->max_receive_count = o->max_receives ? o->max_receives : SETUP_DEFAULT_MAX_RECEIVES;
    return CR_OK;
}

cr_status cr_setup(const struct cr_setup_options *opts, cr_setup_report_fn report, void *userdata,
                   struct cr_error *err)
{
    struct cr_queue_options rq, plain = {.create = 1};
    if (!opts)
        return cr__fail(err, CR_ERR_INVALID, "cr_setup: opts is required");
    cr_status st = requests_options(opts, &rq, err);
    if (st == CR_OK && opts->input_url)
        st = setup_store(opts->input_url, "input store", report, userdata, err);
    if (st == CR_OK && opts->output_url)
        st = setup_store(opts->output_url, "output store", report, userdata, err);
    if (st == CR_OK && opts->dead_letter_url)
        st = setup_queue(opts->dead_letter_url, "dead-letter queue", &plain, report, userdata, err);
    if (st == CR_OK && opts->requests_url)
        st = setup_queue(opts->requests_url, "requests queue", &rq, report, userdata, err);
    if (st == CR_OK && opts->replies_url)
        st = setup_queue(opts->replies_url, "replies queue", &plain, report, userdata, err);
    return st;
}
