/* cmd_up.h - the `cloudrec up` subcommand of the cloudrec CLI (cmd_up.c). */
#ifndef CLOUDREC_TOOLS_CMD_UP_H
#define CLOUDREC_TOOLS_CMD_UP_H

#include <stdio.h>

/* Runs `cloudrec up` with argv[0] == "up"; returns the exit status. */
int cloudrec_cmd_up(int argc, char **argv);

#endif
