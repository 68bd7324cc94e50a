/*
 * test_opts.c - the declared command lines (core/opts.c, core/programs.c):
 * every option of every service program survives the trip from the struct
 * the launchers fill, through the argv they build, to the struct the
 * program parses; each option sets its own field and no other; defaults
 * equal the library's; bad command lines are refused with status 2.
 */
#include "cloudrec/fleet.h"
#include "cloudrec/image.h"
#include "pipeline/message.h"
#include "pipeline/pipeline.h"
#include "core/opts.h"
#include "core/programs.h"
#include "tap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const struct cr__program *const programs[] = {&cr__web_program, &cr__worker_program,
                                                     &cr__scaler_program};

/* The size of the field an option sets. */
static size_t field_size(const struct cr__opt *o)
{
    switch (o->type) {
    case CR__OPT_STR: return sizeof(const char *);
    case CR__OPT_LONG: return sizeof(long);
    case CR__OPT_I64: return sizeof(int64_t);
    case CR__OPT_SIZE: return sizeof(size_t);
    case CR__OPT_U64: return sizeof(uint64_t);
    case CR__OPT_UINT: return sizeof(unsigned);
    default: return sizeof(int);
    }
}

/* The value typed for o in the round trip: not its default. */
static const char *other_value(const struct cr__opt *o, char *buf, size_t n)
{
    if (o->type == CR__OPT_STR) {
        snprintf(buf, n, "value-of-%s", o->name);
        return buf;
    }
    if (o->type == CR__OPT_CHOICE) {
        for (const struct cr__opt_choice *c = o->choices; c->name; c++)
            if (!o->def || strcmp(c->name, o->def) != 0)
                return c->name;
        return NULL;
    }
    long long v = o->hi;
    if (o->def && atoll(o->def) == o->hi)
        v = o->lo;
    if (v == 0 && (o->flags & CR__OPT_ZERO_IS_NONE))
        v = o->hi;
    snprintf(buf, n, "%lld", v);
    return buf;
}

/* Parses a NULL-terminated argv (argv[0] included) into cmd. */
static int parse(const struct cr__program *p, char **argv, void *cmd, int *first)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    return cr__opts_parse(p, argc, argv, cmd, first);
}

/* Every option given on one command line: parsed, rebuilt by
 * cr__opts_argv, parsed again: the same struct, every flag once. */
static void round_trip(const struct cr__program *p)
{
    struct cr__argv typed = {0};
    char bufs[64][64];
    cr__argv_add(&typed, p->name);
    for (size_t i = 0; i < p->n_opts; i++) {
        const struct cr__opt *o = &p->opts[i];
        cr__argv_addf(&typed, "--%s", o->name);
        if (o->type != CR__OPT_BOOL)
            cr__argv_add(&typed, other_value(o, bufs[i], sizeof(bufs[i])));
    }
    void *a = malloc(p->size), *b = malloc(p->size), *def = malloc(p->size);
    CHECK_EQ_INT(parse(p, typed.v, a, NULL), -1);
    cr__opts_defaults(p, def);
    struct cr__argv built = {0};
    struct cr_error err = {0};
    cr__argv_add(&built, p->name);
    CHECK_EQ_INT(cr__opts_argv(p, a, &built, &err), CR_OK);
    CHECK_EQ_INT((int)built.n, (int)typed.n);
    CHECK_EQ_INT(parse(p, built.v, b, NULL), -1);
    for (size_t i = 0; i < p->n_opts; i++) {
        const struct cr__opt *o = &p->opts[i];
        const char *fa = (const char *)a + o->offset, *fb = (const char *)b + o->offset;
        const char *fd = (const char *)def + o->offset;
        int same = o->type == CR__OPT_STR
                       ? strcmp(*(const char *const *)fa, *(const char *const *)fb) == 0
                       : memcmp(fa, fb, field_size(o)) == 0;
        CHECK_MSG(same, o->name);
        CHECK_MSG(memcmp(fa, fd, field_size(o)) != 0, o->name); /* the option took effect */
    }
    free(a);
    free(b);
    free(def);
    cr__argv_clear(&typed);
    cr__argv_clear(&built);
}

/* Each option alone: the built argv is that one flag, and the parsed
 * struct differs from the defaults in that field only. */
static void one_at_a_time(const struct cr__program *p)
{
    unsigned char *def = malloc(p->size), *cmd = malloc(p->size);
    cr__opts_defaults(p, def);
    for (size_t i = 0; i < p->n_opts; i++) {
        const struct cr__opt *o = &p->opts[i];
        char buf[64];
        char *argv[] = {(char *)p->name, NULL, NULL, NULL};
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s", o->name);
        argv[1] = flag;
        argv[2] = o->type == CR__OPT_BOOL ? NULL : (char *)other_value(o, buf, sizeof(buf));
        /* required options may be missing: the check after parsing fails,
         * the field is set all the same */
        parse(p, argv, cmd, NULL);
        size_t changed = 0;
        for (size_t k = 0; k < p->size; k++)
            if (cmd[k] != def[k] && (k < o->offset || k >= o->offset + field_size(o)))
                changed++;
        CHECK_MSG(changed == 0, o->name);
        CHECK_MSG(memcmp(cmd + o->offset, def + o->offset, field_size(o)) != 0, o->name);
        struct cr__argv built = {0};
        struct cr_error err = {0};
        CHECK_EQ_INT(cr__opts_argv(p, cmd, &built, &err), CR_OK);
        CHECK_EQ_INT((int)built.n, o->type == CR__OPT_BOOL ? 1 : 2);
        CHECK_EQ_STR(built.n ? built.v[0] : "", flag);
        cr__argv_clear(&built);
    }
    free(def);
    free(cmd);
}

/* No two options share a field or a name; every option is in --help. */
static void declarations(const struct cr__program *p)
{
    char *help = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&help, &len);
    cr__opts_help(p, f);
    fclose(f);
    for (size_t i = 0; i < p->n_opts; i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "  --%s ", p->opts[i].name);
        CHECK_MSG(strstr(help, flag) || strstr(help, flag + 1), p->opts[i].name);
        for (size_t k = i + 1; k < p->n_opts; k++) {
            CHECK_MSG(p->opts[i].offset != p->opts[k].offset, p->opts[k].name);
            CHECK_MSG(strcmp(p->opts[i].name, p->opts[k].name) != 0, p->opts[k].name);
        }
    }
    free(help);
}

/* The defaults the programs apply are the library's own. */
static void defaults_are_the_library_ones(void)
{
    struct cr__web_cmd w;
    cr__opts_defaults(&cr__web_program, &w);
    CHECK(w.web.max_body_bytes == CR_WEB_DEFAULT_MAX_BODY_BYTES);
    CHECK(w.web.max_pixels == CR_IMAGE_DEFAULT_MAX_PIXELS);
    CHECK(w.web.deadline_ms == CR_WEB_DEFAULT_DEADLINE_MS);
    CHECK(w.web.threads == CR_WEB_DEFAULT_THREADS);
    CHECK(w.web.max_connections == CR_WEB_DEFAULT_MAX_CONNECTIONS);
    CHECK(w.web.idle_timeout_s == CR_WEB_DEFAULT_IDLE_TIMEOUT_S);
    CHECK(w.web.shutdown_grace_ms == CR_WEB_DEFAULT_SHUTDOWN_GRACE_MS);
    CHECK(w.web.header_timeout_ms == CR_WEB_DEFAULT_HEADER_TIMEOUT_MS);
    CHECK(w.web.min_body_bytes_per_s == CR_WEB_DEFAULT_MIN_BODY_RATE);
    CHECK(w.log_level == CR_LOG_INFO);

    struct cr__worker_cmd k;
    cr__opts_defaults(&cr__worker_program, &k);
    CHECK(k.worker.wait_ms == CR_WORKER_DEFAULT_WAIT_MS);
    CHECK(k.worker.visibility_s == CR_WORKER_DEFAULT_VISIBILITY_S);
    CHECK(k.worker.max_image_bytes == CR_WORKER_DEFAULT_MAX_IMAGE_BYTES);
    CHECK(k.worker.top_k == CR_MSG_MAX_TOP);
    CHECK(k.worker.batch == 1);
    CHECK(k.engine == CR_ENGINE_AUTO && k.worker.output_format == CR_OUTPUT_LABEL);

    struct cr__scaler_cmd s;
    cr__opts_defaults(&cr__scaler_program, &s);
    struct cr_scale_config resolved;
    struct cr_scale_config zero = {0};
    cr__scale_config_resolve(&zero, &resolved);
    CHECK(memcmp(&s.scaler.policy, &resolved, sizeof(resolved)) == 0);
    CHECK(s.scaler.interval_ms == CR_SCALER_DEFAULT_INTERVAL_MS);
    CHECK(s.scaler.log_every_ms == CR_SCALER_DEFAULT_LOG_EVERY_MS);
    CHECK(s.scaler.kill_after_ms == CR_FLEET_DEFAULT_KILL_AFTER_MS);
    CHECK_EQ_STR(s.scaler.fleet_url, "local:");
}

/* The declared choices say what the library's names say. */
static void choices_match_names(void)
{
    for (const struct cr__opt_choice *c = cr__engine_choices; c->name; c++)
        CHECK_EQ_STR(cr_engine_name((enum cr_engine)c->value), c->name);
    for (const struct cr__opt_choice *c = cr__log_level_choices; c->name; c++)
        CHECK_EQ_STR(cr_log_level_name((enum cr_log_level)c->value), c->name);
}

/* The flags the library writes into worker command lines by name. */
static void named_flags(void)
{
    CHECK_EQ_STR(CR__FLAG(worker, worker.requests_url), "requests");
    CHECK_EQ_STR(CR__FLAG(worker, worker.output_url), "output");
    CHECK_EQ_STR(CR__FLAG(worker, worker.worker_id), "id");
    CHECK_EQ_STR(CR__FLAG(worker, worker.state_path), "state-file");
    CHECK_EQ_STR(CR__FLAG(worker, worker.idle_exit_s), "idle-exit-s");
    CHECK(CR__FLAG(worker, worker.stop) == NULL); /* not an option */
}

/* Refused command lines, the environment, 0 = none, scaled values and
 * operands. */
static void parsing(void)
{
    struct cr__web_cmd w;
    char *bad_num[] = {"cloudrec-web", "--port", "70000", NULL};
    CHECK_EQ_INT(parse(&cr__web_program, bad_num, &w, NULL), 2);
    char *junk[] = {"cloudrec-web", "--port", "80x", NULL};
    CHECK_EQ_INT(parse(&cr__web_program, junk, &w, NULL), 2);
    char *unknown[] = {"cloudrec-web", "--no-such-flag", NULL};
    CHECK_EQ_INT(parse(&cr__web_program, unknown, &w, NULL), 2);
    char *no_value[] = {"cloudrec-web", "--port", NULL};
    CHECK_EQ_INT(parse(&cr__web_program, no_value, &w, NULL), 2);
    char *missing[] = {"cloudrec-web", "--input", "file:///i", NULL};
    CHECK_EQ_INT(parse(&cr__web_program, missing, &w, NULL), 2);

    setenv("CLOUDREC_INPUT", "file:///env-in", 1);
    setenv("CLOUDREC_OUTPUT", "file:///env-out", 1);
    setenv("CLOUDREC_REQUESTS", "sqlite:///q.db?name=r", 1);
    setenv("CLOUDREC_REPLIES", "sqlite:///q.db?name=p", 1);
    char *env[] = {"cloudrec-web", "--output", "file:///flag-out", "--deadline-ms", "0", NULL};
    CHECK_EQ_INT(parse(&cr__web_program, env, &w, NULL), -1);
    CHECK_EQ_STR(w.web.input_url, "file:///env-in");
    CHECK_EQ_STR(w.web.output_url, "file:///flag-out"); /* argv wins */
    CHECK(w.web.deadline_ms == -1);                      /* 0 typed = wait forever */
    struct cr__argv built = {0};
    struct cr_error err = {0};
    CHECK_EQ_INT(cr__opts_argv(&cr__web_program, &w, &built, &err), CR_OK);
    int zero_back = 0;
    for (size_t i = 0; i + 1 < built.n; i++)
        zero_back |= strcmp(built.v[i], "--deadline-ms") == 0 && strcmp(built.v[i + 1], "0") == 0;
    CHECK(zero_back);
    cr__argv_clear(&built);
    w.web.deadline_ms = 0; /* the library's default: not passed */
    CHECK_EQ_INT(cr__opts_argv(&cr__web_program, &w, &built, &err), CR_OK);
    for (size_t i = 0; i < built.n; i++)
        CHECK(strcmp(built.v[i], "--deadline-ms") != 0);
    cr__argv_clear(&built);
    char *operand[] = {"cloudrec-web", "stray", NULL};
    CHECK_EQ_INT(parse(&cr__web_program, operand, &w, NULL), 2);
    unsetenv("CLOUDREC_INPUT");
    char *bad_env[] = {"cloudrec-web", NULL};
    setenv("CLOUDREC_INPUT", "x", 1);
    CHECK_EQ_INT(parse(&cr__web_program, bad_env, &w, NULL), -1);
    unsetenv("CLOUDREC_INPUT");
    CHECK_EQ_INT(parse(&cr__web_program, bad_env, &w, NULL), 2); /* --input missing */

    struct cr__scaler_cmd s;
    int first = 0;
    char *sc[] = {"cloudrec-scaler", "--requests", "q", "--log-every-s", "7", "--",
                  "--batch",         "3",          NULL};
    CHECK_EQ_INT(parse(&cr__scaler_program, sc, &s, &first), -1);
    CHECK_EQ_INT(s.scaler.log_every_ms, 7000);
    CHECK_EQ_INT(first, 6);
    CHECK_EQ_STR(sc[first], "--batch");
    struct cr__scaler_cmd bad = s;
    bad.scaler.log_every_ms = 1500; /* not a whole number of seconds */
    CHECK_EQ_INT(cr__opts_argv(&cr__scaler_program, &bad, &built, &err), CR_ERR_INVALID);
    cr__argv_clear(&built);
    char *sc_operand[] = {"cloudrec-scaler", "--requests", "q", "stray", NULL};
    CHECK_EQ_INT(parse(&cr__scaler_program, sc_operand, &s, &first), 2);

    struct cr__worker_cmd k;
    char *choice[] = {"cloudrec-worker", "--requests", "q", "--output", "o",
                      "--engine",        "gpu",        NULL};
    CHECK_EQ_INT(parse(&cr__worker_program, choice, &k, NULL), 2);
    choice[6] = "darknet";
    CHECK_EQ_INT(parse(&cr__worker_program, choice, &k, NULL), -1);
    CHECK(k.engine == CR_ENGINE_DARKNET);
}

int main(void)
{
    const char *vars[] = {"CLOUDREC_INPUT", "CLOUDREC_OUTPUT", "CLOUDREC_REQUESTS",
                          "CLOUDREC_REPLIES"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
        DIAG("%s", programs[i]->name);
        declarations(programs[i]);
        round_trip(programs[i]);
        one_at_a_time(programs[i]);
    }
    defaults_are_the_library_ones();
    named_flags();
    choices_match_names();
    parsing();
    return tap_done();
}
