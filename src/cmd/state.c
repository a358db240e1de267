/* state and list */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../lib/cleanup.h"
#include "cmd.h"

static int run_state(const struct runtime_opts *ro, int argc, char **argv)
{
    int o;
    while ((o = cmd_getopt(&cmd_state, argc, argv, "", NULL)) != -1)
        if (o == 'h' || o == '?')
            return o == 'h' ? 0 : 1;
    if (cmd_expect_args(&cmd_state, argc, 1, 1))
        return 1;
    struct error *err = NULL;
    _cleanup_json_ json_t *st = NULL;
    if (container_state(ro, argv[optind], &st, &err) < 0)
        return cmd_fail(err);
    json_dumpf(st, stdout, JSON_INDENT(2));
    putchar('\n');
    return 0;
}

static const struct option list_long[] = {
    { "quiet", no_argument, NULL, 'q' },
    { "format", required_argument, NULL, 'f' },
    { 0 },
};

static int run_list(const struct runtime_opts *ro, int argc, char **argv)
{
    int o;
    bool quiet = false;
    const char *format = "table";
    while ((o = cmd_getopt(&cmd_list, argc, argv, "qf:", list_long)) != -1) {
        if (o == 'h' || o == '?')
            return o == 'h' ? 0 : 1;
        if (o == 'q')
            quiet = true;
        if (o == 'f')
            format = optarg;
    }
    if (strcmp(format, "table") && strcmp(format, "json"))
        return cmd_usage_error(&cmd_list, "--format: \"%s\" is not table or json", format);
    if (cmd_expect_args(&cmd_list, argc, 0, 0))
        return 1;
    struct error *err = NULL;
    _cleanup_json_ json_t *all = NULL;
    if (container_list(ro, &all, &err) < 0)
        return cmd_fail(err);
    size_t i;
    json_t *c;
    if (quiet) {
        json_array_foreach(all, i, c)
            printf("%s\n", json_string_value(json_object_get(c, "id")));
        return 0;
    }
    if (strcmp(format, "json") == 0) {
        json_dumpf(all, stdout, JSON_COMPACT);
        putchar('\n');
        return 0;
    }
    printf("%-12s%-12s%-12s%-40s%-32s%s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
    json_array_foreach(all, i, c) {
        printf("%-12s%-12lld%-12s%-40s%-32s%s\n", json_string_value(json_object_get(c, "id")),
               (long long)json_integer_value(json_object_get(c, "pid")),
               json_string_value(json_object_get(c, "status")), json_string_value(json_object_get(c, "bundle")),
               json_string_value(json_object_get(c, "created")), json_string_value(json_object_get(c, "owner")));
    }
    return 0;
}

const struct command cmd_state = {
    .name = "state", .args = "ID", .run = run_state,
    .summary = "Print the container's OCI state as JSON.",
};

const struct command cmd_list = {
    .name = "list", .args = "", .run = run_list,
    .summary = "List the containers under --root.",
    .options = "   --format, -f FMT     table (default) or json\n"
               "   --quiet, -q          only the ids\n",
};
