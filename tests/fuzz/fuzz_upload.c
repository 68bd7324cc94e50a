/*
 * fuzz_upload.c - the upload path of the web tier, end to end in-process:
 * libmicrohttpd's request parser and post processor and
 * libcloudrec/web/upload.c behind them, fed over a loopback socket.
 *
 * One cr_web_server is started on the first input (127.0.0.1, port 0,
 * file:// stores and sqlite:// queues in a temporary directory removed at
 * exit) with a stand-in worker thread that answers every request message at
 * once (label "fuzz", or an error for names starting with "bad"), so an
 * accepted upload makes the whole round trip: store, request, reply, answer.
 * The server's deadline (200 ms) covers a request the worker misses; it is
 * swept about once a second. Each input is then sent on a new connection:
 *
 *   'R' then bytes    the bytes are a raw HTTP request, sent as they are
 *   anything else     the first line is a multipart boundary and the rest
 *                     the body of "POST /upload" with Content-Type
 *                     multipart/form-data; boundary=<it>
 *
 * The client then half-closes and reads until the server closes. A crash or
 * sanitizer report in any server thread, a server that neither answers nor
 * closes within 5 s, an answer that is not HTTP, or a 500 is a finding.
 * FUZZ_UPLOAD_VERBOSE=1 prints each answer's status line.
 */
#include "fuzz.h"

#include "pipeline/message.h"
#include "cloudrec/queue.h"
#include "cloudrec/web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define ANSWER_WAIT_S 5
#define MAX_BOUNDARY 200

static struct cr_web_server *server;
static char tmp_dir[256];
static pthread_t worker_thread;
static volatile int worker_stop;

/* Answers one request message on the server's reply queue (the one every
 * request names, as there is one server); a message that does not decode is
 * dropped, as the real worker does. */
static void answer(struct cr_queue *replies, const struct cr_queue_message *m)
{
    struct cr_request_msg req;
    if (cr_request_msg_decode(m->body, m->body_len, &req, NULL) != CR_OK)
        return;
    struct cr_response_msg resp = {0};
    memcpy(resp.id, req.id, sizeof(resp.id));
    memcpy(resp.name, req.name, sizeof(resp.name));
    if (strncmp(req.name, "bad", 3) == 0)
        snprintf(resp.error, sizeof(resp.error), "not a JPEG or PNG image");
    else
        snprintf(resp.label, sizeof(resp.label), "fuzz");
    struct cr_buf out;
    cr_buf_init(&out, 0);
    if (cr_response_msg_encode(&resp, &out) == CR_OK)
        cr_queue_send(replies, out.data, out.len, NULL, 0, NULL);
    cr_buf_free(&out);
}

/* The stand-in worker: requests in, replies out, until worker_stop. */
static void *worker_main(void *arg)
{
    const char **urls = arg; /* requests, replies */
    struct cr_queue *requests = NULL, *replies = NULL;
    FUZZ_REQUIRE(cr_queue_open(urls[0], NULL, &requests, NULL) == CR_OK &&
                     cr_queue_open(urls[1], NULL, &replies, NULL) == CR_OK,
                 "the stand-in worker opens its queues");
    while (!__atomic_load_n(&worker_stop, __ATOMIC_ACQUIRE)) {
        struct cr_queue_message msgs[10];
        size_t n = 0;
        if (cr_queue_receive(requests, 10, 200, 30, msgs, &n, NULL) != CR_OK) {
            usleep(10000); /* not a busy loop if the queue fails */
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            answer(replies, &msgs[i]);
            cr_queue_delete(requests, msgs[i].receipt, NULL);
            cr_queue_message_clear(&msgs[i]);
        }
    }
    cr_queue_free(requests);
    cr_queue_free(replies);
    return NULL;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* atexit: stops the worker and the server and removes their directory. */
static void stop_server(void)
{
    __atomic_store_n(&worker_stop, 1, __ATOMIC_RELEASE);
    pthread_join(worker_thread, NULL);
    cr_web_free(server);
    server = NULL;
    if (tmp_dir[0])
        nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Starts the server once; aborts if it cannot (the target is useless then). */
static void start_server(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/cloudrec-fuzz-upload-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    FUZZ_REQUIRE(mkdtemp(tmp_dir) != NULL, "a temporary directory can be made");
    char input[300], output[300];
    static char requests[320], replies[320];
    static const char *queues[2] = {requests, replies};
    snprintf(input, sizeof(input), "file://%s/input", tmp_dir);
    snprintf(output, sizeof(output), "file://%s/output", tmp_dir);
    snprintf(requests, sizeof(requests), "sqlite://%s/queue.db?name=requests", tmp_dir);
    snprintf(replies, sizeof(replies), "sqlite://%s/queue.db?name=replies", tmp_dir);
    struct cr_web_options opts = {
        .bind_addr = "127.0.0.1",
        .input_url = input,
        .output_url = output,
        .requests_url = requests,
        .replies_url = replies,
        .max_body_bytes = 1024 * 1024,
        .deadline_ms = 200,
        .threads = 2,
        .idle_timeout_s = 1,
        .shutdown_grace_ms = -1,
        .header_timeout_ms = 2000,
    };
    struct cr_error err = {0};
    cr_status st = cr_web_start(&opts, &server, &err);
    if (st != CR_OK)
        fprintf(stderr, "fuzz_upload: cr_web_start: %s\n", err.message);
    FUZZ_REQUIRE(st == CR_OK, "the web server starts");
    FUZZ_REQUIRE(pthread_create(&worker_thread, NULL, worker_main, queues) == 0,
                 "the stand-in worker starts");
    atexit(stop_server);
}

/* libFuzzer's timer signal can interrupt connect (never restarted on a
 * socket with timeouts); the connection goes on, so wait for its outcome.
 * Returns 0 when connected, else -1 with errno set. */
static int finish_connect(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int n, soerr = 0;
    socklen_t len = sizeof(soerr);
    while ((n = poll(&p, 1, ANSWER_WAIT_S * 1000)) < 0 && errno == EINTR)
        ;
    if (n <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) {
        errno = n == 0 ? ETIMEDOUT : errno;
        return -1;
    }
    errno = soerr;
    return soerr ? -1 : 0;
}

static int connect_server(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FUZZ_REQUIRE(fd >= 0, "a socket can be made");
    struct timeval tv = {.tv_sec = ANSWER_WAIT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cr_web_port(server))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* Thousands of connections a minute can use up the local ports for a
     * moment (EADDRNOTAVAIL); that is the harness, not the server. */
    int rc, tries = 0;
    while ((rc = connect(fd, (struct sockaddr *)&a, sizeof(a))) != 0 && errno == EADDRNOTAVAIL &&
           ++tries < 100)
        usleep(10000);
    if (rc != 0 && errno == EINTR)
        rc = finish_connect(fd);
    if (rc != 0) {
        fprintf(stderr, "fuzz_upload: connect: %s\n", strerror(errno));
        FUZZ_REQUIRE(0, "the server accepts");
    }
    return fd;
}

/* Sends what it can: the server may answer (413, 400) and close before
 * reading everything, which is its right. */
static void send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

/* Reads until the server closes; keeps the first bytes in head. A read that
 * times out means the server hung on this input. */
static void read_answer(int fd, char *head, size_t head_size)
{
    size_t have = 0;
    char buf[4096];
    head[0] = '\0';
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        FUZZ_REQUIRE(!(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)),
                     "the server answers or closes within 5 s");
        if (n <= 0)
            return;
        size_t take = (size_t)n < head_size - 1 - have ? (size_t)n : head_size - 1 - have;
        memcpy(head + have, buf, take);
        have += take;
        head[have] = '\0';
    }
}

/* Builds the multipart request for an input that is not raw. */
static char *multipart_request(const uint8_t *data, size_t size, size_t *len)
{
    const uint8_t *nl = memchr(data, '\n', size < MAX_BOUNDARY ? size : MAX_BOUNDARY);
    size_t blen = nl ? (size_t)(nl - data) : 0;
    const uint8_t *body = nl ? nl + 1 : data;
    size_t body_len = size - (size_t)(body - data);
    if (blen && data[blen - 1] == '\r')
        blen--;
    char head[512];
    int hlen = snprintf(head, sizeof(head),
                        "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Content-Type: multipart/form-data; boundary=%.*s\r\n"
                        "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                        (int)blen, (const char *)data, body_len);
    char *req = malloc((size_t)hlen + body_len);
    FUZZ_REQUIRE(req != NULL, "memory for a request");
    memcpy(req, head, (size_t)hlen);
    memcpy(req + hlen, body, body_len);
    *len = (size_t)hlen + body_len;
    return req;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!server)
        start_server();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int raw = size > 0 && data[0] == 'R';
    size_t len = 0;
    char *req = raw ? NULL : multipart_request(data, size, &len);
    int fd = connect_server();
    if (raw)
        send_all(fd, data + 1, size - 1);
    else
        send_all(fd, req, len);
    /* libmicrohttpd 0.9.75 (epoll) notices an end of stream that arrives
     * with the last bytes of a request only at the idle timeout, so a
     * truncated request would cost a second; sent apart it is seen at once. */
    usleep(2000);
    shutdown(fd, SHUT_WR);
    char head[64] = {0};
    read_answer(fd, head, sizeof(head));
    close(fd);
    free(req);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (getenv("FUZZ_UPLOAD_VERBOSE")) /* for seeing what a corpus reaches */
        fprintf(stderr, "answer in %ld ms: %.*s\n",
                (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000),
                (int)strcspn(head, "\r\n"), head);
    FUZZ_REQUIRE(head[0] == '\0' || strncmp(head, "HTTP/1.", 7) == 0,
                 "the server answers in HTTP");
    FUZZ_REQUIRE(strncmp(head + (head[0] ? 8 : 0), " 500", 4) != 0, "no input is a 500");
    return 0;
}
