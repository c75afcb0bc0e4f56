/* cmd_target.c - placeholder until the task registry lands. */
#include <stdio.h>

#include "commands.h"

int gfn_cmd_target(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "gfnbench target: not yet built\n");
    return 1;
}
