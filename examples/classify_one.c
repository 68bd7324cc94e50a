/*
 * classify_one - label one image with the default model.
 *
 *   cc classify_one.c $(pkg-config --cflags --libs libcloudrec) -o classify_one
 *   ./classify_one /usr/share/darknet/data/dog.jpg
 */
#include <cloudrec.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s IMAGE\n", argv[0]);
        return 2;
    }
    struct cr_error err = {0};
    struct cr_model_paths paths;
    struct cr_classifier *cl = NULL;
    struct cr_prediction top[3];
    size_t n = 0;
    cr_status st = cr_model_resolve(NULL, &paths, &err);
    if (st == CR_OK) {
        struct cr_classifier_options opts = {
            .cfg_path = paths.cfg, .weights_path = paths.weights, .names_path = paths.names};
        st = cr_classifier_open(&opts, &cl, &err);
    }
    if (st == CR_OK)
        st = cr_classify_file(cl, argv[1], top, 3, &n, &err);
    for (size_t i = 0; st == CR_OK && i < n; i++)
        printf("%5.2f%% %s\n", top[i].probability * 100.0, top[i].label);
    if (st != CR_OK)
        fprintf(stderr, "%s: %s\n", argv[1], err.message[0] ? err.message : cr_strerror(st));
    cr_classifier_free(cl);
    return st == CR_OK ? 0 : 1;
}
