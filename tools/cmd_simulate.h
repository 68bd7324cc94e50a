/* cmd_simulate.h - the `cloudrec simulate` subcommand of the cloudrec CLI (cmd_simulate.c). */
#ifndef CLOUDREC_TOOLS_CMD_SIMULATE_H
#define CLOUDREC_TOOLS_CMD_SIMULATE_H

#include <stdio.h>

/* Runs `cloudrec simulate` with argv[0] == "simulate"; returns the exit status. */
int cloudrec_cmd_simulate(int argc, char **argv);

#endif
