/* state and list */
#include <stdio.h>
#include <stdlib.h>
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
    /* columns as wide as their widest cell, as runc's tabwriter does */
    static const char *const heads[] = { "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER" };
    static const char *const keys[] = { "id", "pid", "status", "bundle", "created", "owner" };
    int width[6];
    for (int k = 0; k < 6; k++)
        width[k] = (int)strlen(heads[k]);
    size_t n = json_array_size(all);
    char *(*cells)[6] = calloc(n ? n : 1, sizeof(*cells));
    json_array_foreach(all, i, c) {
        for (int k = 0; k < 6; k++) {
            json_t *v = json_object_get(c, keys[k]);
            if (json_is_integer(v))
                asprintf(&cells[i][k], "%lld", (long long)json_integer_value(v));
            else
                cells[i][k] = strdup(json_string_value(v) ? json_string_value(v) : "");
            if (cells[i][k] && (int)strlen(cells[i][k]) > width[k])
                width[k] = (int)strlen(cells[i][k]);
        }
    }
    for (int k = 0; k < 6; k++)
        printf(k < 5 ? "%-*s   " : "%-*s\n", k < 5 ? width[k] : 0, heads[k]);
    for (size_t r = 0; r < n; r++) {
        for (int k = 0; k < 6; k++) {
            printf(k < 5 ? "%-*s   " : "%-*s\n", k < 5 ? width[k] : 0, cells[r][k] ? cells[r][k] : "");
            free(cells[r][k]);
        }
    }
    free(cells);
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
