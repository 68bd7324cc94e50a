/*
 * simulate_cap - the smallest cap that answers a burst within a latency
 * target, found with the simulator (libcloudrec/sim/sim.h, internal: built
 * in the source tree against the static archive) instead of by hand.
 *
 *   ./simulate_cap 1000 60      # 1000 uploads at once, p95 within 60 s
 *
 * Each run uses the real scaling policy with 40 s boots and 1 s per image.
 */
#include "sim/sim.h" /* internal: link the static archive (examples/meson.build) */

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3 || atoi(argv[1]) < 1 || atof(argv[2]) <= 0) {
        fprintf(stderr, "usage: %s UPLOADS P95_SECONDS\n", argv[0]);
        return 2;
    }
    char burst[32];
    snprintf(burst, sizeof(burst), "burst:%d", atoi(argv[1]));
    const char *arrivals[] = {burst, NULL};
    for (int cap = 1; cap <= 1000; cap++) {
        struct cr_sim_options o = {.arrivals = arrivals, .policy = {.max_instances = cap}};
        struct cr_sim_result r;
        struct cr_error err = {0};
        if (cr_sim_run(&o, &r, &err) != CR_OK) {
            fprintf(stderr, "%s: %s\n", argv[0], err.message);
            return 1;
        }
        double p95 = r.fleet.latency_p95_s, cost = r.fleet.cost_usd;
        cr_sim_result_free(&r);
        if (p95 <= atof(argv[2])) {
            printf("cap %d: p95 %.1f s, $%.4f\n", cap, p95, cost);
            return 0;
        }
    }
    printf("no cap up to 1000 reaches p95 %.1f s\n", atof(argv[2]));
    return 1;
}
