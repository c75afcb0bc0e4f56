/* commands.h - the subcommands of the gfnbench executable.
 *
 * Each subcommand is one function `int gfn_cmd_NAME(int argc, char **argv)` in
 * its own harness/cmd_NAME.c, plus one line in the table of harness/main.c.
 * argv[0] is the subcommand's name.  It prints its own help for -h/--help, prints
 * errors as one line on stderr, and returns the process exit status (0 success,
 * 1 failure, 2 usage).  Only main() calls exit().
 */
#ifndef GFN_COMMANDS_H
#define GFN_COMMANDS_H

int gfn_cmd_target(int argc, char **argv);
int gfn_cmd_train(int argc, char **argv);
int gfn_cmd_ad(int argc, char **argv);
int gfn_cmd_run(int argc, char **argv);
int gfn_cmd_report(int argc, char **argv);
int gfn_cmd_list(int argc, char **argv);
int gfn_cmd_eval(int argc, char **argv);
int gfn_cmd_compare(int argc, char **argv);
int gfn_cmd_status(int argc, char **argv);
int gfn_cmd_slurm(int argc, char **argv);
int gfn_cmd_sample(int argc, char **argv);

/* True when argv[1..] contains -h or --help. */
int gfn_cmd_wants_help(int argc, char **argv);

#endif
