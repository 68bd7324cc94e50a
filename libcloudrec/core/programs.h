/*
 * core/programs.h - the declared command lines of the three service
 * programs (internal): cloudrec-web, cloudrec-worker, cloudrec-scaler.
 *
 * Each program's options are declared once, in programs.c, over its command
 * struct below. The program parses argv with it (cr__opts_parse), its --help
 * and man page come from it, and the library code that launches a program
 * (`cloudrec up`, the scaler, the fleets) fills the same struct and builds
 * argv with cr__opts_argv, or names a flag with CR__FLAG: renaming a field
 * is a compile error there, renaming an option changes every side at once.
 *
 * This file is data over public option structs (include/cloudrec/); any
 * layer may include it.
 */
#ifndef CLOUDREC_CORE_PROGRAMS_H
#define CLOUDREC_CORE_PROGRAMS_H

#include "cloudrec/classify.h"
#include "cloudrec/core.h"
#include "cloudrec/service.h"
#include "cloudrec/web.h"
#include "cloudrec/worker.h"
#include "core/opts.h"

#include <stddef.h>

/* cloudrec-web: the web tier's options and its log level. */
struct cr__web_cmd {
    struct cr_web_options web;
    enum cr_log_level log_level;
};

/* cloudrec-worker: the loop's options, the model and engine, the log level. */
struct cr__worker_cmd {
    struct cr_worker_options worker; /* classifier and stop are not options */
    const char *model_dir;           /* NULL = cr_model_resolve's own lookup */
    const char *cfg_path;            /* NULL = the model directory's */
    const char *names_path;          /* NULL = the model directory's */
    enum cr_engine engine;
    enum cr_log_level log_level;
};

/* cloudrec-scaler: the loop's options, the worker command's parts, the log
 * level. The worker's own flags come after "--" on the command line. */
struct cr__scaler_cmd {
    struct cr_scaler_options scaler; /* worker_argv and stop are not options */
    const char *worker_path;         /* local fleets: NULL = find cloudrec-worker */
    const char *worker_output;       /* passed to the workers as their output */
    const char *worker_model;        /* passed to the workers as their model */
    int print_user_data;
    enum cr_log_level log_level;
};

/* The values of --log-level and --engine, for every program that has them. */
extern const struct cr__opt_choice cr__log_level_choices[];
extern const struct cr__opt_choice cr__engine_choices[];

/* The --engine option of every program that classifies: field F (an enum
 * cr_engine) of command struct T, short option S (0 = none). */
#define CR__ENGINE_OPT(T, F, S)                                                                   \
    {.name = "engine", .short_name = S, .type = CR__OPT_CHOICE, .offset = offsetof(T, F),        \
     .metavar = "E", .help = "auto: native when the cfg allows it, else Darknet",                 \
     .def = "auto", .choices = cr__engine_choices}

extern const struct cr__program cr__web_program;
extern const struct cr__program cr__worker_program;
extern const struct cr__program cr__scaler_program;

/* The name (without "--") of the option of program PROG (web, worker,
 * scaler) that sets FIELD of struct cr__PROG_cmd, e.g.
 * CR__FLAG(worker, worker.worker_id) is "id". A renamed field does not
 * compile; NULL only if the option was removed (tests/unit/test_opts.c
 * checks every use). */
#define CR__FLAG(prog, field)                                                                     \
    cr__opts_flag(&cr__##prog##_program, offsetof(struct cr__##prog##_cmd, field))

#endif
