/*
 * sqs_roundtrip - send a message to an SQS queue, receive it with a long
 * poll and delete it.
 *
 *   cc sqs_roundtrip.c $(pkg-config --cflags --libs libcloudrec) -o sqs_roundtrip
 *   AWS_REGION=us-east-1 ./sqs_roundtrip requests "hello"
 *
 * The queue is created if needed. The usual AWS_* variables choose the
 * region, credentials and endpoint.
 */
#include <cloudrec.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s QUEUE-NAME TEXT\n", argv[0]);
        return 2;
    }
    struct cr_error err = {0};
    struct cr_aws *aws = NULL;
    struct cr_sqs_messages *msgs = NULL;
    struct cr_buf url, id;
    cr_buf_init(&url, 0);
    cr_buf_init(&id, 0);
    cr_status st = cr_aws_open(NULL, &aws, &err);
    if (st == CR_OK)
        st = cr_sqs_create_queue(aws, argv[1], NULL, &url, &err);
    if (st == CR_OK)
        st = cr_sqs_send(aws, (const char *)url.data, argv[2], strlen(argv[2]), NULL, &id, &err);
    if (st == CR_OK) {
        printf("sent message %s to %s\n", (const char *)id.data, (const char *)url.data);
        /* Wait up to 10 s for it; hide it for 30 s while we work on it. */
        struct cr_sqs_receive_options ro = {
            .max_messages = 1, .wait_s = 10, .visibility_timeout_s = 30};
        st = cr_sqs_receive(aws, (const char *)url.data, &ro, &msgs, &err);
    }
    if (st == CR_OK && msgs->count == 0) {
        fprintf(stderr, "%s: no message arrived within 10 s\n", argv[0]);
        st = CR_ERR_TIMEOUT;
    } else if (st == CR_OK) {
        const struct cr_sqs_message *m = &msgs->messages[0];
        printf("received \"%s\" (receive count %d)\n", m->body, m->receive_count);
        st = cr_sqs_delete(aws, (const char *)url.data, m->receipt_handle, &err);
        if (st == CR_OK)
            printf("deleted\n");
    }
    if (st != CR_OK && st != CR_ERR_TIMEOUT)
        fprintf(stderr, "%s: %s\n", argv[0], err.message[0] ? err.message : cr_strerror(st));
    cr_sqs_messages_free(msgs);
    cr_aws_free(aws);
    cr_buf_clear(&id);
    cr_buf_clear(&url);
    return st == CR_OK ? 0 : 1;
}
