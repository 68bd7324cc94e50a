/*
 * ec2_list - list the EC2 instances that carry a tag, page by page.
 *
 *   cc ec2_list.c $(pkg-config --cflags --libs libcloudrec) -o ec2_list
 *   AWS_REGION=us-east-1 ./ec2_list Name=app-tier-instance-1
 *
 * Prints one line per instance: id, state, type, private address. The
 * usual AWS_* variables choose the region, credentials and endpoint.
 */
#include <cloudrec.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *eq = argc == 2 ? strchr(argv[1], '=') : NULL;
    if (!eq || eq == argv[1]) {
        fprintf(stderr, "usage: %s TAG=VALUE\n", argv[0]);
        return 2;
    }
    char filter_name[256];
    snprintf(filter_name, sizeof(filter_name), "tag:%.*s", (int)(eq - argv[1]), argv[1]);
    const char *values[] = {eq + 1};
    struct cr_ec2_filter filter = {filter_name, values, 1};
    struct cr_ec2_describe_options opts = {
        .filters = &filter, .num_filters = 1, .max_results = 100};
    struct cr_error err = {0};
    struct cr_aws *aws = NULL;
    struct cr_ec2_instances *page = NULL;
    char token[1024] = "";
    size_t total = 0;
    cr_status st = cr_aws_open(NULL, &aws, &err);
    while (st == CR_OK) {
        opts.next_token = token[0] ? token : NULL;
        if ((st = cr_ec2_describe_instances(aws, &opts, &page, &err)) != CR_OK)
            break;
        for (size_t i = 0; i < page->count; i++) {
            const struct cr_ec2_instance *in = &page->instances[i];
            printf("%s %s %s %s\n", in->instance_id, in->state ? in->state : "-",
                   in->instance_type ? in->instance_type : "-",
                   in->private_ip ? in->private_ip : "-");
        }
        total += page->count;
        snprintf(token, sizeof(token), "%s", page->next_token ? page->next_token : "");
        cr_ec2_instances_free(page);
        if (!token[0])
            break;
    }
    if (st == CR_OK)
        printf("%zu instance(s) tagged %s\n", total, argv[1]);
    else
        fprintf(stderr, "%s: %s\n", argv[0], err.message[0] ? err.message : cr_strerror(st));
    cr_aws_free(aws);
    return st == CR_OK ? 0 : 1;
}
