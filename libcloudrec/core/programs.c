/*
 * programs.c - the options of cloudrec-web, cloudrec-worker and
 * cloudrec-scaler, declared once (core/programs.h).
 *
 * Numeric defaults here are the library's own defaults written out (the
 * library applies the same value to a zero field); tests/unit/test_opts.c
 * checks each against the library's constant.
 */
#include "core/programs.h"

#include <limits.h>
#include <stdint.h>

/* enum fields are stored through an int. */
_Static_assert(sizeof(enum cr_log_level) == sizeof(int), "log level is int-sized");
_Static_assert(sizeof(enum cr_engine) == sizeof(int), "engine is int-sized");
_Static_assert(sizeof(enum cr_output_format) == sizeof(int), "output format is int-sized");

const struct cr__opt_choice cr__log_level_choices[] = {
    {"debug", CR_LOG_DEBUG}, {"info", CR_LOG_INFO}, {"warn", CR_LOG_WARN},
    {"error", CR_LOG_ERROR}, {"off", CR_LOG_OFF},   {NULL, 0}};

const struct cr__opt_choice cr__engine_choices[] = {{"auto", CR_ENGINE_AUTO},
                                                {"native", CR_ENGINE_NATIVE},
                                                {"darknet", CR_ENGINE_DARKNET},
                                                {NULL, 0}};

static const struct cr__opt_choice output_formats[] = {
    {"label", CR_OUTPUT_LABEL}, {"pair", CR_OUTPUT_PAIR}, {NULL, 0}};

/* The --log-level option of a command struct T, with its help text. */
#define LOG_LEVEL_OPT(T, text)                                                                    \
    {.name = "log-level", .type = CR__OPT_CHOICE, .offset = offsetof(T, log_level),              \
     .metavar = "LEVEL", .help = text, .def = "info", .choices = cr__log_level_choices}

/* ---- cloudrec-web ------------------------------------------------------*/

#define WEB(f) offsetof(struct cr__web_cmd, web.f)

static const struct cr__opt web_opts[] = {
    {.name = "input", .type = CR__OPT_STR, .offset = WEB(input_url), .metavar = "URL",
     .help = "store for uploads (file:///dir, s3://bucket[/prefix])", .env = "CLOUDREC_INPUT",
     .flags = CR__OPT_REQUIRED},
    {.name = "output", .type = CR__OPT_STR, .offset = WEB(output_url), .metavar = "URL",
     .help = "store the workers write results to", .env = "CLOUDREC_OUTPUT",
     .flags = CR__OPT_REQUIRED},
    {.name = "requests", .type = CR__OPT_STR, .offset = WEB(requests_url), .metavar = "URL",
     .help = "request queue (sqlite:///path/q.db?name=requests, sqs://name)",
     .env = "CLOUDREC_REQUESTS", .flags = CR__OPT_REQUIRED},
    {.name = "replies", .type = CR__OPT_STR, .offset = WEB(replies_url), .metavar = "URL",
     .help = "this server's own reply queue", .env = "CLOUDREC_REPLIES",
     .flags = CR__OPT_REQUIRED},
    {.name = "bind", .type = CR__OPT_STR, .offset = WEB(bind_addr), .metavar = "ADDR",
     .help = "IPv4 or IPv6 literal to listen on; 0.0.0.0 (or ::) serves every interface, as "
             "the AWS web tier does",
     .def = "127.0.0.1"},
    {.name = "port", .type = CR__OPT_INT, .offset = WEB(port), .metavar = "N",
     .help = "TCP port, 0 = any free one (printed on stdout)", .def = "8000", .lo = 0, .hi = 65535},
    {.name = "label-only", .type = CR__OPT_BOOL, .offset = WEB(label_only),
     .help = "answer <label> instead of <stem>:<label>"},
    {.name = "scaler-status", .type = CR__OPT_STR, .offset = WEB(scaler_status_path),
     .metavar = "PATH",
     .help = "the scaler's status file (cloudrec-scaler --status-file), read once a second for "
             "the fleet in /v1/stats and the dashboard; without it the fleet series are null"},
    {.name = "max-body-bytes", .type = CR__OPT_SIZE, .offset = WEB(max_body_bytes),
     .metavar = "N", .help = "largest request body", .def = "16777216", .lo = 1,
     .hi = LLONG_MAX},
    {.name = "max-pixels", .type = CR__OPT_U64, .offset = WEB(max_pixels), .metavar = "N",
     .help = "largest width*height of an image", .def = "40000000", .lo = 1, .hi = LLONG_MAX},
    {.name = "deadline-ms", .type = CR__OPT_LONG, .offset = WEB(deadline_ms), .metavar = "N",
     .help = "answer 504 after N ms without a reply; 0 = wait forever", .def = "300000",
     .lo = 0, .hi = LONG_MAX, .flags = CR__OPT_ZERO_IS_NONE},
    {.name = "threads", .type = CR__OPT_INT, .offset = WEB(threads), .metavar = "N",
     .help = "HTTP threads", .def = "4", .lo = 1, .hi = 256},
    {.name = "max-connections", .type = CR__OPT_UINT, .offset = WEB(max_connections),
     .metavar = "N",
     .help = "open connections at once, waiting requests included; past it a request is "
             "answered 503 at once (up to 64 more connections are accepted to say so); raise "
             "ulimit -n to match",
     .def = "1024", .lo = 1, .hi = 1000000},
    {.name = "idle-timeout-s", .type = CR__OPT_INT, .offset = WEB(idle_timeout_s),
     .metavar = "N",
     .help = "close connections idle this long; a connection waiting for its answer is never "
             "idle", .def = "60", .lo = 1,
     .hi = 86400},
    {.name = "header-timeout-ms", .type = CR__OPT_LONG, .offset = WEB(header_timeout_ms),
     .metavar = "N",
     .help = "drop a connection whose request headers are not complete N ms after it opened "
             "(later keep-alive requests: after the idle timeout, if longer); 0 = no limit",
     .def = "10000", .lo = 0, .hi = 86400000L, .flags = CR__OPT_ZERO_IS_NONE},
    {.name = "min-body-rate", .type = CR__OPT_LONG, .offset = WEB(min_body_bytes_per_s),
     .metavar = "N",
     .help = "drop an upload whose body, once it has been arriving for the header timeout, "
             "averages under N bytes/s; 0 = no limit",
     .def = "1024", .lo = 0, .hi = LONG_MAX, .flags = CR__OPT_ZERO_IS_NONE},
    {.name = "shutdown-grace-ms", .type = CR__OPT_LONG, .offset = WEB(shutdown_grace_ms),
     .metavar = "N", .help = "on SIGTERM, wait this long for pending answers; 0 = not at all",
     .def = "10000", .lo = 0, .hi = LONG_MAX, .flags = CR__OPT_ZERO_IS_NONE},
    LOG_LEVEL_OPT(struct cr__web_cmd, "what to log on stderr: each upload at info (method, path, "
                                      "status, ms, name, id, reason), other requests and "
                                      "ignored replies at debug"),
};

const struct cr__program cr__web_program = {
    .name = "cloudrec-web",
    .synopsis = "--input URL --output URL --requests URL --replies URL [options]",
    .about = "Serves POST / and POST /upload (multipart, field inputFile, myfile or file):\n"
             "stores the image, sends a request to the workers and answers <stem>:<label>.\n"
             "Also GET /v1/results/<id>, /v1/stats, /metrics, /healthz and the dashboard\n"
             "at / (docs/http-api.md).\n\n",
    .epilog = "Prints \"listening on http://ADDR:PORT/\" on stdout once it serves.\n"
              "SIGTERM or SIGINT: stop accepting, give waiting requests the grace period.\n"
              "Exit status: 0 stopped by SIGTERM/SIGINT, 1 could not start, 2 usage error.\n",
    .opts = web_opts,
    .n_opts = sizeof(web_opts) / sizeof(web_opts[0]),
    .size = sizeof(struct cr__web_cmd),
};

/* ---- cloudrec-worker ---------------------------------------------------*/

#define WK(f) offsetof(struct cr__worker_cmd, worker.f)

static const struct cr__opt worker_opts[] = {
    {.name = "requests", .type = CR__OPT_STR, .offset = WK(requests_url), .metavar = "URL",
     .help = "request queue (sqlite:///path/queue.db?name=requests, sqs://name)",
     .flags = CR__OPT_REQUIRED},
    {.name = "output", .type = CR__OPT_STR, .offset = WK(output_url), .metavar = "URL",
     .help = "output store (file:///dir, s3://bucket[/prefix])", .flags = CR__OPT_REQUIRED},
    {.name = "model", .type = CR__OPT_STR, .offset = offsetof(struct cr__worker_cmd, model_dir),
     .metavar = "DIR",
     .help = "model directory holding tiny.weights (default: $CLOUDREC_MODEL_DIR, "
             "./models/tiny-darknet, ../shared/models/tiny-darknet)"},
    {.name = "cfg", .type = CR__OPT_STR, .offset = offsetof(struct cr__worker_cmd, cfg_path),
     .metavar = "FILE", .help = "network cfg (default: DIR/tiny.cfg or Darknet's)"},
    {.name = "names", .type = CR__OPT_STR,
     .offset = offsetof(struct cr__worker_cmd, names_path), .metavar = "FILE",
     .help = "class names (default: DIR/names.list or Darknet's)"},
    CR__ENGINE_OPT(struct cr__worker_cmd, engine, 0),
    {.name = "output-format", .type = CR__OPT_CHOICE, .offset = WK(output_format),
     .metavar = "FMT", .help = "an answer is \"bathtub\" (label) or \"(test_0, bathtub)\" (pair)",
     .def = "label", .choices = output_formats},
    {.name = "id", .type = CR__OPT_STR, .offset = WK(worker_id), .metavar = "ID",
     .help = "worker id put in every answer (default w-<pid>; the local fleet passes w-N)"},
    {.name = "state-file", .type = CR__OPT_STR, .offset = WK(state_path), .metavar = "PATH",
     .help = "publish idle/busy/stopping in PATH (atomically replaced)"},
    {.name = "batch", .type = CR__OPT_INT, .offset = WK(batch), .metavar = "N",
     .help = "messages per receive: 1 spreads a burst over all workers, more saves requests "
             "on SQS",
     .def = "1", .lo = 1, .hi = 10},
    {.name = "wait-ms", .type = CR__OPT_INT, .offset = WK(wait_ms), .metavar = "MS",
     .help = "long poll per receive; also how fast an idle worker notices SIGTERM",
     .def = "1000", .lo = 1, .hi = 20000},
    {.name = "visibility-s", .type = CR__OPT_INT, .offset = WK(visibility_s), .metavar = "S",
     .help = "invisibility of held messages, renewed while held: how long a dead worker's "
             "image waits before another worker takes it",
     .def = "30", .lo = 1,
     .hi = 43200},
    {.name = "idle-exit-s", .type = CR__OPT_INT, .offset = WK(idle_exit_s), .metavar = "S",
     .help = "exit 0 after S seconds without a message; 0 = never", .lo = 0, .hi = INT_MAX},
    {.name = "top", .type = CR__OPT_INT, .offset = WK(top_k), .metavar = "K",
     .help = "labels per answer", .def = "5", .lo = 1, .hi = 5},
    {.name = "max-image-bytes", .type = CR__OPT_SIZE, .offset = WK(max_image_bytes),
     .metavar = "N", .help = "larger images get an error answer", .def = "33554432", .lo = 1,
     .hi = LONG_MAX},
    LOG_LEVEL_OPT(struct cr__worker_cmd, "what to log on stderr"),
};

const struct cr__program cr__worker_program = {
    .name = "cloudrec-worker",
    .synopsis = "--requests URL --output URL [options]",
    .about = "Takes request messages from the requests queue, classifies the image each\n"
             "names, writes the result to the output store, answers on the request's\n"
             "reply queue and then deletes the request.\n\n",
    .epilog = "SIGTERM or SIGINT: no more receives; the held messages are finished, exit 0.\n"
              "Exit status: 0 stopped or idle, 2 usage or setup error (queue, store, model).\n",
    .opts = worker_opts,
    .n_opts = sizeof(worker_opts) / sizeof(worker_opts[0]),
    .size = sizeof(struct cr__worker_cmd),
};

/* ---- cloudrec-scaler ---------------------------------------------------*/

#define SC(f) offsetof(struct cr__scaler_cmd, scaler.f)
#define SCW(f) offsetof(struct cr__scaler_cmd, f)

static const struct cr__opt scaler_opts[] = {
    {.name = "requests", .type = CR__OPT_STR, .offset = SC(requests_url), .metavar = "URL",
     .help = "request queue (also passed to every worker)", .flags = CR__OPT_REQUIRED},
    {.name = "fleet", .type = CR__OPT_STR, .offset = SC(fleet_url), .metavar = "URL",
     .help = "local: (state files in a private temporary directory), local:///abs/dir, or "
             "ec2:?ami=AMI&type=T&fleet=NAME&... (EC2 instances, docs/aws-mode.md)",
     .def = "local:"},
    {.name = "min", .type = CR__OPT_INT, .offset = SC(policy.min_instances), .metavar = "N",
     .help = "fewest workers, even when idle", .def = "0", .lo = 0, .hi = 1000},
    {.name = "max", .type = CR__OPT_INT, .offset = SC(policy.max_instances), .metavar = "N",
     .help = "the cap (an ec2: fleet lowers it to 20); a larger backlog waits, nothing is "
             "dropped", .def = "20", .lo = 1, .hi = 1000},
    {.name = "per-instance", .type = CR__OPT_INT, .offset = SC(policy.per_instance_target),
     .metavar = "N", .help = "backlog one worker is meant to absorb: desired = ceil(backlog / N)",
     .def = "1", .lo = 1, .hi = 1000000},
    {.name = "scale-in-window-ms", .type = CR__OPT_I64, .offset = SC(policy.scale_in_window_ms),
     .metavar = "MS", .help = "backlog must stay low this long before stopping workers",
     .def = "30000", .lo = 1, .hi = 86400000},
    {.name = "interval-ms", .type = CR__OPT_INT, .offset = SC(interval_ms), .metavar = "MS",
     .help = "one decision this often (the queue wakes it earlier while the fleet can grow)",
     .def = "1000", .lo = 10, .hi = 3600000},
    {.name = "log-every-s", .type = CR__OPT_INT, .offset = SC(log_every_ms), .metavar = "S",
     .help = "repeat an unchanged decision line this often", .def = "30", .lo = 1,
     .hi = 86400, .scale = 1000},
    {.name = "kill-after-ms", .type = CR__OPT_INT, .offset = SC(kill_after_ms), .metavar = "MS",
     .help = "on exit, SIGKILL workers still busy after this", .def = "30000", .lo = 1,
     .hi = 3600000},
    {.name = "status-file", .type = CR__OPT_STR, .offset = SC(status_path), .metavar = "PATH",
     .help = "rewrite PATH every tick with what it saw and decided (JSON, docs/scaling.md); "
             "cloudrec-web --scaler-status reads it"},
    {.name = "worker", .type = CR__OPT_STR, .offset = SCW(worker_path), .metavar = "PATH",
     .help = "local: the worker program (default: cloudrec-worker next to this program, "
             "else on PATH); ec2: fleets take it from their worker= setting"},
    {.name = "output", .type = CR__OPT_STR, .offset = SCW(worker_output), .metavar = "URL",
     .help = "passed to workers as --output"},
    {.name = "model", .type = CR__OPT_STR, .offset = SCW(worker_model), .metavar = "DIR",
     .help = "passed to workers as --model"},
    {.name = "print-user-data", .type = CR__OPT_BOOL, .offset = SCW(print_user_data),
     .help = "print the user data ec2: instances would boot with and exit (no AWS request "
             "is made)"},
    LOG_LEVEL_OPT(struct cr__scaler_cmd, "what to log on stderr (one line per decision at info)"),
};

const struct cr__program cr__scaler_program = {
    .name = "cloudrec-scaler",
    .synopsis = "--requests URL [options] [-- WORKER-FLAGS...]",
    .about = "Every interval: reads the request queue's backlog, lists the fleet, decides\n"
             "(desired = clamp(ceil(backlog / per-instance), min, max); out at once, in after\n"
             "the window, idle workers only) and logs one line per decision. The worker\n"
             "command is the worker program, --output, --model, --requests and the\n"
             "WORKER-FLAGS after \"--\" (ec2: it goes into the instances' user data).\n\n",
    .epilog = "SIGTERM or SIGINT: every worker gets SIGTERM (finishes its image), exit 0.\n"
              "Exit status: 0 stopped, 2 usage or setup error.\n",
    .opts = scaler_opts,
    .n_opts = sizeof(scaler_opts) / sizeof(scaler_opts[0]),
    .size = sizeof(struct cr__scaler_cmd),
    .operands = CR__OPERANDS_AFTER_DASH,
};
