/* krun_start_enter: what libkrun, the guest kernel and libkrun's guest init would do.
 *
 * 1. Check the context the way libkrun does before it builds the VM (unknown context,
 *    libkrunfw, block devices, TEE config, kernel command-line size, setgid/setuid, a
 *    root filesystem, the KVM device).
 * 2. Build the kernel command line exactly as libkrun does and parse it the way Linux
 *    does: KEY=VALUE parameters become the init's environment, the rest its argv.
 * 3. Act as the guest init: read /.krun_config.json (or $KRUN_CONFIG) inside the guest
 *    root as the current uid, apply its key rules (C init: flat case-insensitive token
 *    scan, first match wins, 16384 tokens; Rust init: process.{args,env,cwd}), the env
 *    rules, the workdir, the rlimits, the hostname, and pick the program.
 * 4. Fork, exec the workload in the child, wait, and exit() with its exit code, as the
 *    VMM does when the guest reports it. (Nitro: krun_start_enter returns that code.)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "fk.h"

extern char **environ;

#define DEFAULT_KERNEL_CMDLINE                                                                                       \
    "reboot=k panic=-1 panic_print=0 nomodule console=hvc0 rootfstype=virtiofs rw quiet no-kvmapf"
#define INIT_PATH "/init.krun"
#define CONFIG_FILE_PATH "/.krun_config.json"
#define C_INIT_MAX_TOKENS 16384

#if defined(__aarch64__)
#define KERNEL_CMDLINE_MAX 2048
#else
#define KERNEL_CMDLINE_MAX 65536
#endif

struct guest {
    const char *init;   /* "c" or "rust" */
    char *root;         /* the guest root, as a path in the VMM's filesystem view */
    struct fk_strv env; /* the init's environment */
    struct fk_strv init_argv;
    char *config_path;
    const char *config_status;
    struct fk_strv config_argv;
    char *config_workdir;
    char *tmpfs;
    struct fk_strv argv; /* the workload */
    char *cwd;
    char *hostname;
    bool hostname_set;
    char *rlimits;
};

static void guest_free(struct guest *g)
{
    free(g->root);
    fk_strv_clear(&g->env);
    fk_strv_clear(&g->init_argv);
    free(g->config_path);
    fk_strv_clear(&g->config_argv);
    free(g->config_workdir);
    free(g->tmpfs);
    fk_strv_clear(&g->argv);
    free(g->cwd);
    free(g->hostname);
    free(g->rlimits);
}

static const char *knob_or(const char *name, const char *dflt)
{
    const char *v = fk_knob(name);
    return v && *v ? v : dflt;
}

static int32_t fail(uint32_t ctx_id, struct fk_ctx *c, int32_t err)
{
    fk_ctx_free(c);
    fk_log_call("krun_start_enter", json_pack("{s:I}", "ctx_id", (json_int_t)ctx_id), true, err, NULL);
    return err;
}

/* ---- files ------------------------------------------------------------------------------ */

static int read_fd_all(int fd, char **data, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = fk_xmalloc(cap + 1);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                return -ENOMEM;
            }
            buf = nb;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = -errno;
            free(buf);
            return e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

static int read_file(const char *path, char **data, size_t *len)
{
    _fk_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    return read_fd_all(fd, data, len);
}

/* Open `path` as the guest sees it: inside the guest root, symlinks kept inside it. */
static int open_in_guest(const char *root, const char *path)
{
    if (strcmp(root, "/") == 0)
        return open(path, O_RDONLY | O_CLOEXEC);
    _fk_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return -1;
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
    int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
    if (fd < 0 && errno == ENOSYS) {
        while (*path == '/')
            path++;
        fd = openat(rootfd, path, O_RDONLY | O_CLOEXEC);
    }
    return fd;
}

/* ---- the kernel command line ------------------------------------------------------------ */

static char *build_cmdline(const struct fk_ctx *c)
{
    _fk_free_ char *exec = c->exec_path ? fk_xasprintf("KRUN_INIT=%s", c->exec_path) : fk_xstrdup("");
    _fk_free_ char *workdir = c->workdir ? fk_xasprintf("KRUN_WORKDIR=%s", c->workdir) : fk_xstrdup("");
    _fk_free_ char *rlimits = c->rlimits ? fk_xasprintf("KRUN_RLIMITS=%s", c->rlimits) : fk_xstrdup("");
    _fk_free_ char *block = NULL;
    if (c->block_root_device)
        block = fk_xasprintf("KRUN_BLOCK_ROOT_DEVICE=%s%s%s%s%s", c->block_root_device,
                             c->block_root_fstype ? " KRUN_BLOCK_ROOT_FSTYPE=" : "",
                             c->block_root_fstype ? c->block_root_fstype : "",
                             c->block_root_options ? " KRUN_BLOCK_ROOT_OPTIONS=" : "",
                             c->block_root_options ? c->block_root_options : "");
    else
        block = fk_xstrdup("");
    return fk_xasprintf("%s init=%s %s %s %s %s %s -- %s", DEFAULT_KERNEL_CMDLINE, INIT_PATH, exec, workdir, block,
                        rlimits, c->env ? c->env : "", c->args ? c->args : "");
}

/* One parameter of the command line, split the way Linux does it: whitespace separates
 * parameters except inside double quotes; a parameter is `param` or `param=value`; the
 * quotes around a whole parameter or around its value are dropped. Returns the rest. */
static char *kernel_next_arg(char *args, char **param, char **val)
{
    size_t i, equals = 0;
    bool in_quote = false, quoted = false;
    if (*args == '"') {
        args++;
        in_quote = quoted = true;
    }
    for (i = 0; args[i]; i++) {
        if (isspace((unsigned char)args[i]) && !in_quote)
            break;
        if (equals == 0 && args[i] == '=')
            equals = i;
        if (args[i] == '"')
            in_quote = !in_quote;
    }
    *param = args;
    *val = NULL;
    if (equals) {
        args[equals] = '\0';
        *val = args + equals + 1;
        if (**val == '"') {
            (*val)++;
            if (i > 0 && args[i - 1] == '"')
                args[i - 1] = '\0';
        }
    }
    if (quoted && i > 0 && args[i - 1] == '"')
        args[i - 1] = '\0';
    if (args[i]) {
        args[i] = '\0';
        args += i + 1;
    } else {
        args += i;
    }
    while (isspace((unsigned char)*args))
        args++;
    return args;
}

static bool is_kernel_param(const char *p)
{
    static const char *const known[] = {"reboot", "panic",   "panic_print", "nomodule", "console", "rootfstype",
                                        "rw",     "ro",      "quiet",       "no-kvmapf", "init",    "root",
                                        "rootflags", "loglevel", "debug",   NULL};
    for (size_t i = 0; known[i]; i++)
        if (strcmp(p, known[i]) == 0)
            return true;
    return false;
}

/* What the kernel hands to init: argv (argv[0] = the init) and envp. */
static void kernel_boot_init(const char *cmdline, struct fk_strv *argv, struct fk_strv *envp)
{
    _fk_free_ char *buf = fk_xstrdup(cmdline);
    char *p = buf;
    while (isspace((unsigned char)*p))
        p++;
    fk_strv_push(argv, INIT_PATH);
    fk_strv_push(envp, "HOME=/");
    fk_strv_push(envp, "TERM=linux");
    bool after_dashes = false;
    while (*p) {
        char *param, *val;
        p = kernel_next_arg(p, &param, &val);
        if (after_dashes) {
            if (val) {
                _fk_free_ char *joined = fk_xasprintf("%s=%s", param, val);
                fk_strv_push(argv, joined);
            } else {
                fk_strv_push(argv, param);
            }
            continue;
        }
        if (!val && strcmp(param, "--") == 0) {
            after_dashes = true;
            continue;
        }
        if (*param == '\0' || is_kernel_param(param) || strchr(param, '.'))
            continue; /* empty, consumed by the kernel, or a module parameter */
        if (val)
            fk_env_set(envp, param, val, true);
        else
            fk_strv_push(argv, param);
    }
}

/* A collapsed `"a" "b"` string back into its items (Nitro passes them on as they are). */
static void split_quoted(const char *s, struct fk_strv *out, bool only_assignments)
{
    _fk_free_ char *buf = fk_xstrdup(s ? s : "");
    char *p = buf;
    while (isspace((unsigned char)*p))
        p++;
    while (*p) {
        char *param, *val;
        p = kernel_next_arg(p, &param, &val);
        if (val) {
            _fk_free_ char *joined = fk_xasprintf("%s=%s", param, val);
            fk_strv_push(out, joined);
        } else if (!only_assignments) {
            fk_strv_push(out, param);
        }
    }
}

/* ---- the guest init's config file ------------------------------------------------------- */

static bool key_is(const char *js, const struct fk_jtok *t, const char *word)
{
    size_t n = strlen(word);
    return t->type == FK_J_STRING && t->end - t->start == n && strncasecmp(js + t->start, word, n) == 0;
}

/* The `size` tokens after token `ti`, as the init reads an "array". */
static void take_items(const char *js, const struct fk_jtok *t, long n, long ti, struct fk_strv *out)
{
    for (long k = 0; k < t[ti].size && ti + 1 + k < n; k++) {
        _fk_free_ char *s = fk_json_token_text(js, &t[ti + 1 + k]);
        fk_strv_push(out, s);
    }
}

/* Env entries never overwrite what the kernel set, except HOME and TERM. */
static void apply_env_entry(struct guest *g, const char *entry)
{
    const char *eq = strchr(entry, '=');
    if (!eq || eq == entry)
        return;
    _fk_free_ char *key = fk_xstrndup(entry, (size_t)(eq - entry));
    bool overwrite = strcmp(key, "HOME") == 0 || strcmp(key, "TERM") == 0;
    fk_env_set(&g->env, key, eq + 1, overwrite);
}

/* The released C init: one pass over all tokens; a key matches case-insensitively
 * wherever it is in the document (even a string value), the first match wins. */
static void flat_scan(struct guest *g, const char *js, const struct fk_jtok *t, long n, long max_args)
{
    bool penv = false, pargs = false, pwd = false, pentry = false;
    struct fk_strv args = {0}, entry = {0};
    for (long i = 1; i < n && !(penv && pargs && pwd && pentry); i++) {
        if (!penv && key_is(js, &t[i], "Env") && i + 1 < n && t[i + 1].type == FK_J_ARRAY) {
            struct fk_strv items = {0};
            take_items(js, t, n, i + 1, &items);
            for (size_t k = 0; k < items.n; k++)
                apply_env_entry(g, items.v[k]);
            fk_strv_clear(&items);
            penv = true;
        }
        if (!pargs && (key_is(js, &t[i], "args") || key_is(js, &t[i], "Cmd")) && i + 1 < n) {
            take_items(js, t, n, i + 1, &args);
            pargs = true;
        }
        if (!pwd && (key_is(js, &t[i], "WorkingDir") || key_is(js, &t[i], "Cwd")) && i + 1 < n) {
            if (t[i + 1].end > t[i + 1].start)
                g->config_workdir = fk_json_token_text(js, &t[i + 1]);
            pwd = true;
        }
        if (!pentry && key_is(js, &t[i], "Entrypoint") && i + 1 < n) {
            take_items(js, t, n, i + 1, &entry);
            pentry = true;
        }
    }
    /* The entrypoint only counts together with args. */
    if (args.n && entry.n) {
        for (size_t k = 0; k < entry.n; k++)
            fk_strv_push(&g->config_argv, entry.v[k]);
    }
    for (size_t k = 0; k < args.n; k++)
        fk_strv_push(&g->config_argv, args.v[k]);
    fk_strv_clear(&args);
    fk_strv_clear(&entry);
    /* Older inits (<= 1.17) keep at most MAX_ARGS arguments. */
    if (max_args > 0 && g->config_argv.n > (size_t)max_args) {
        for (size_t k = (size_t)max_args; k < g->config_argv.n; k++)
            free(g->config_argv.v[k]);
        g->config_argv.n = (size_t)max_args;
        g->config_argv.v[max_args] = NULL;
    }
}

static bool opt_strv(json_t *v)
{
    if (!v || json_is_null(v))
        return true;
    if (!json_is_array(v))
        return false;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) if (!json_is_string(e)) return false;
    return true;
}

static bool opt_str(json_t *v) { return !v || json_is_null(v) || json_is_string(v); }

/* serde's view of the Rust init's config struct: a wrong type anywhere in the fields it
 * knows makes the whole file unreadable. */
static bool rust_types_ok(json_t *root)
{
    json_t *proc = json_object_get(root, "process");
    if (proc && !json_is_null(proc)) {
        if (!json_is_object(proc) || !opt_strv(json_object_get(proc, "args")) ||
            !opt_strv(json_object_get(proc, "env")) || !opt_str(json_object_get(proc, "cwd")))
            return false;
    }
    if (!opt_strv(json_object_get(root, "args")) || !opt_strv(json_object_get(root, "env")) ||
        !opt_str(json_object_get(root, "cwd")))
        return false;
    json_t *mounts = json_object_get(root, "mounts");
    if (mounts && !json_is_null(mounts)) {
        if (!json_is_array(mounts))
            return false;
        size_t i;
        json_t *m;
        json_array_foreach(mounts, i, m)
        {
            if (!json_is_object(m) || !opt_str(json_object_get(m, "destination")) ||
                !opt_str(json_object_get(m, "type")) || !opt_str(json_object_get(m, "source")))
                return false;
        }
    }
    return true;
}

static void rust_init_config(struct guest *g, const char *data, size_t len)
{
    json_error_t jerr;
    _fk_json_ json_t *root = json_loadb(data, len, 0, &jerr);
    if (!root || !json_is_object(root) || !rust_types_ok(root)) {
        g->config_status = "invalid";
        return;
    }
    g->config_status = "ok";
    json_t *proc = json_object_get(root, "process");
    if (proc && json_is_object(proc)) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(proc, "env"), i, e) apply_env_entry(g, json_string_value(e));
        json_array_foreach(json_object_get(proc, "args"), i, e) fk_strv_push(&g->config_argv, json_string_value(e));
        json_t *cwd = json_object_get(proc, "cwd");
        if (json_is_string(cwd))
            g->config_workdir = fk_xstrdup(json_string_value(cwd));
    } else {
        /* No "process": the flat keys, as the C init reads them (no token limit). */
        _fk_free_ struct fk_jtok *t = NULL;
        long n = fk_json_tokenize(data, len, 0, &t);
        if (n > 0)
            flat_scan(g, data, t, n, 0);
    }
    json_t *mounts = json_object_get(root, "mounts");
    size_t i;
    json_t *m;
    json_array_foreach(mounts, i, m)
    {
        const char *type = json_string_value(json_object_get(m, "type"));
        const char *src = json_string_value(json_object_get(m, "source"));
        const char *dst = json_string_value(json_object_get(m, "destination"));
        if (dst && type && src && strcmp(type, "tmpfs") == 0 && strcmp(src, "tmpfs") == 0) {
            g->tmpfs = fk_xstrdup(dst);
            break;
        }
    }
}

static void c_init_config(struct guest *g, const char *data, size_t len)
{
    _fk_free_ struct fk_jtok *t = NULL;
    long n = fk_json_tokenize(data, len, C_INIT_MAX_TOKENS, &t);
    if (n == -ENOMEM) {
        g->config_status = "too-many-tokens";
        return;
    }
    if (n < 1 || t[0].type != FK_J_OBJECT) {
        g->config_status = n < 0 ? "invalid" : "not-an-object";
        return;
    }
    g->config_status = "ok";
    long max_args = strtol(knob_or("FAKE_KRUN_MAX_ARGS", "0"), NULL, 10);
    flat_scan(g, data, t, n, max_args);
}

static void read_config(struct guest *g, const struct fk_ctx *c)
{
    const char *path = fk_env_get(&g->env, "KRUN_CONFIG");
    g->config_path = fk_xstrdup(path ? path : CONFIG_FILE_PATH);
    _fk_free_ char *data = NULL;
    size_t len = 0;

    /* An in-memory overlay file in the root share hides the file underneath. */
    const char *rel = g->config_path;
    while (*rel == '/')
        rel++;
    for (size_t i = 0; i < c->nfs && !data; i++) {
        if (strcmp(c->fs[i].tag, KRUN_FS_ROOT_TAG) != 0)
            continue;
        for (size_t k = 0; k < c->fs[i].nvfiles; k++) {
            const struct fk_vfile *v = &c->fs[i].vfiles[k];
            if (!v->is_dir && strcmp(v->path, rel) == 0) {
                data = fk_xstrndup((const char *)v->data, v->len);
                len = strlen(data);
                break;
            }
        }
    }
    if (!data) {
        _fk_close_ int fd = open_in_guest(g->root, g->config_path);
        if (fd < 0) {
            /* Silently ignored by the init: env and args are simply lost. */
            g->config_status = errno == ENOENT ? "missing" : "unreadable";
            return;
        }
        if (read_fd_all(fd, &data, &len) < 0) {
            g->config_status = "unreadable";
            return;
        }
        len = strlen(data); /* the init stops at a NUL byte */
    }
    if (strcmp(g->init, "rust") == 0)
        rust_init_config(g, data, len);
    else
        c_init_config(g, data, len);
}

static void guest_init(struct guest *g, const struct fk_ctx *c, const char *cmdline)
{
    kernel_boot_init(cmdline, &g->init_argv, &g->env);
    read_config(g, c);

    const char *v;
    if ((v = fk_env_get(&g->env, "KRUN_HOME"))) {
        _fk_free_ char *copy = fk_xstrdup(v);
        fk_env_set(&g->env, "HOME", copy, true);
    }
    if ((v = fk_env_get(&g->env, "KRUN_TERM"))) {
        _fk_free_ char *copy = fk_xstrdup(v);
        fk_env_set(&g->env, "TERM", copy, true);
    }
    v = fk_env_get(&g->env, "HOSTNAME");
    g->hostname = fk_xstrdup(v ? v : "localhost");
    if ((v = fk_env_get(&g->env, "KRUN_RLIMITS")))
        g->rlimits = fk_xstrdup(v);
    if ((v = fk_env_get(&g->env, "KRUN_WORKDIR")))
        g->cwd = fk_xstrdup(v);
    else if (g->config_workdir)
        g->cwd = fk_xstrdup(g->config_workdir);

    /* The program: KRUN_INIT (krun_set_exec) with the command-line args, else the
     * config's argv, else /bin/sh with the command-line args. */
    const char *krun_init = fk_env_get(&g->env, "KRUN_INIT");
    if (krun_init || g->config_argv.n == 0) {
        fk_strv_push(&g->argv, krun_init ? krun_init : "/bin/sh");
        for (size_t i = 1; i < g->init_argv.n; i++)
            fk_strv_push(&g->argv, g->init_argv.v[i]);
    } else {
        for (size_t i = 0; i < g->config_argv.n; i++)
            fk_strv_push(&g->argv, g->config_argv.v[i]);
    }
}

/* ---- running the workload --------------------------------------------------------------- */

/* KRUN_RLIMITS as the init parses it: "<id>=<cur>:<max>,..." with strtoull, one
 * separator character skipped between the numbers, errors reported and skipped. */
static void apply_rlimits(const char *spec)
{
    char *item = (char *)spec;
    for (;;) {
        unsigned long long id = strtoull(item, &item, 10);
        if (id == ULLONG_MAX) {
            fprintf(stderr, "init: invalid rlimit id in KRUN_RLIMITS\n");
            break;
        }
        if (*item)
            item++;
        unsigned long long cur = strtoull(item, &item, 10);
        if (*item)
            item++;
        unsigned long long max = strtoull(item, &item, 10);
        struct rlimit rl = {.rlim_cur = (rlim_t)cur, .rlim_max = (rlim_t)max};
        if (setrlimit((int)id, &rl) != 0)
            fprintf(stderr, "init: cannot set rlimit %llu to %llu:%llu: %s\n", id, cur, max, strerror(errno));
        if (*item == '\0')
            break;
        item++;
    }
}

static volatile sig_atomic_t workload_pid;

static void forward_signal(int sig)
{
    if (workload_pid > 0)
        kill((pid_t)workload_pid, sig);
}

static void read_children(struct fk_strv *out)
{
    _fk_free_ char *path = fk_xasprintf("/proc/self/task/%d/children", (int)gettid());
    _fk_free_ char *data = NULL;
    size_t len;
    if (read_file(path, &data, &len) < 0)
        return;
    for (char *tok = strtok(data, " \n"); tok; tok = strtok(NULL, " \n"))
        fk_strv_push(out, tok);
}

static bool in_strv(const struct fk_strv *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++)
        if (strcmp(sv->v[i], s) == 0)
            return true;
    return false;
}

/* When the VM goes away, everything in it goes too: kill what the workload left behind
 * (reparented to us, the subreaper), but not children the caller had before. */
static void kill_leftovers(const struct fk_strv *before)
{
    for (int round = 0; round < 1000; round++) {
        struct fk_strv kids = {0};
        read_children(&kids);
        bool any = false;
        for (size_t i = 0; i < kids.n; i++) {
            if (in_strv(before, kids.v[i]))
                continue;
            pid_t pid = (pid_t)strtol(kids.v[i], NULL, 10);
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            any = true;
        }
        fk_strv_clear(&kids);
        if (!any)
            break;
    }
}

static _Noreturn void child_exec(const struct guest *g, const char *console_output, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(125);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (console_output) {
        /* The console goes to a file and stdin is ignored. */
        int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int out = open(console_output, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
            _exit(125);
    }
    if (strcmp(g->root, "/") != 0 && chroot(g->root) != 0) {
        fprintf(stderr, "init: cannot enter the guest root %s: %s\n", g->root, strerror(errno));
        _exit(125);
    }
    if (chdir("/") != 0)
        _exit(125);
    umask(022);
    if (g->cwd && chdir(g->cwd) != 0) {
        /* The init ignores a failing chdir. */
    }
    if (g->rlimits)
        apply_rlimits(g->rlimits);
    environ = g->env.v ? g->env.v : (char *[]){NULL};
    execvp(g->argv.v[0], g->argv.v);
    int err = errno;
    printf("init: could not execute '%s' inside the VM: %s\n", g->argv.v[0], strerror(err));
    fflush(stdout);
    _exit(err == ENOENT ? 127 : 126);
}

/* Returns the workload's exit code (128 + signal if it was killed). */
static int run_workload(const struct guest *g, const char *console_output, bool forward_term)
{
    struct fk_strv before = {0};
    read_children(&before);
    int old_subreaper = 0;
    prctl(PR_GET_CHILD_SUBREAPER, &old_subreaper);
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    sigset_t block, old_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    if (forward_term)
        sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &old_mask);
    struct sigaction sa = {.sa_handler = forward_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    /* SIGINT reaches the guest; SIGTERM does not (libkrun issue #10), except on Nitro. */
    sigaction(SIGINT, &sa, &old_int);
    if (forward_term)
        sigaction(SIGTERM, &sa, &old_term);

    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "init: fork: %s\n", strerror(errno));
        return 125;
    }
    if (pid == 0)
        child_exec(g, console_output, parent);
    workload_pid = pid;
    sigprocmask(SIG_SETMASK, &old_mask, NULL);

    int status = 0;
    for (;;) {
        pid_t w = waitpid(-1, &status, 0);
        if (w == pid)
            break;
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            status = 125 << 8;
            break;
        }
        /* Another (orphaned) process of the guest: reaped and ignored. */
    }
    workload_pid = 0;
    kill_leftovers(&before);
    fk_strv_clear(&before);

    sigaction(SIGINT, &old_int, NULL);
    if (forward_term)
        sigaction(SIGTERM, &old_term, NULL);
    prctl(PR_SET_CHILD_SUBREAPER, old_subreaper);

    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 125;
}

/* ---- checks before the VM runs ---------------------------------------------------------- */

/* The VMM opens the hypervisor device itself (after setuid/setgid). A node without a
 * driver behind it (ENODEV/ENXIO) is accepted as a stand-in, so tests can provide one;
 * a missing node or a device-cgroup/permission denial is the failure libkrun would hit. */
static int device_check(const char *path)
{
    const char *knob = fk_knob("FAKE_KRUN_DEVICE_CHECK");
    if (knob && strcmp(knob, "0") == 0)
        return 0;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    if (errno == ENODEV || errno == ENXIO)
        return 0;
    int e = errno;
    fk_logger_error("Building the microVM failed: cannot open %s: %s", path, strerror(e));
    return -e;
}

static int tee_config_load(const char *path, json_t **out)
{
    _fk_free_ char *data = NULL;
    size_t len;
    if (read_file(path, &data, &len) < 0)
        return -EINVAL;
    json_error_t jerr;
    json_t *cfg = json_loadb(data, len, 0, &jerr);
    const char *tee = json_string_value(json_object_get(cfg, "tee"));
    json_t *cpus = json_object_get(cfg, "cpus"), *ram = json_object_get(cfg, "ram_mib");
    bool ok = json_is_object(cfg) && json_is_string(json_object_get(cfg, "workload_id")) && json_is_integer(cpus) &&
              json_is_integer(ram) && tee && json_is_string(json_object_get(cfg, "tee_data")) &&
              json_is_string(json_object_get(cfg, "attestation_url")) && json_integer_value(cpus) >= 1 &&
              json_integer_value(cpus) <= 255 && json_integer_value(ram) >= 1 &&
              json_integer_value(ram) <= UINT32_MAX;
    if (ok && FK_VARIANT == FK_V_SEV)
        ok = strcmp(tee, "sev") == 0 || strcmp(tee, "snp") == 0;
    if (ok && FK_VARIANT == FK_V_TDX)
        ok = strcmp(tee, "tdx") == 0;
    if (!ok) {
        json_decref(cfg);
        return -EINVAL;
    }
    *out = cfg;
    return 0;
}

static json_t *vm_summary(const struct fk_ctx *c, const struct guest *g, const char *cmdline, json_t *tee)
{
    json_t *fs = json_array();
    for (size_t i = 0; i < c->nfs; i++)
        json_array_append_new(fs, json_pack("{s:o,s:o,s:I,s:b}", "tag", fk_jstr(c->fs[i].tag), "path",
                                            fk_jstr(c->fs[i].path), "shm_size", (json_int_t)c->fs[i].shm_size,
                                            "read_only", c->fs[i].read_only));
    json_t *disks = json_array();
    for (size_t i = 0; i < c->ndisks; i++)
        json_array_append_new(disks, json_pack("{s:o,s:o,s:I,s:b}", "block_id", fk_jstr(c->disks[i].block_id),
                                               "path", fk_jstr(c->disks[i].path), "format",
                                               (json_int_t)c->disks[i].format, "read_only", c->disks[i].read_only));
    bool tsi = c->vsock == FK_VSOCK_EXPLICIT ? (c->tsi_features & KRUN_TSI_HIJACK_INET) != 0
                                             : c->vsock == FK_VSOCK_IMPLICIT && c->net_index == 0 && !c->legacy_net;
    json_t *vm = json_pack(
        "{s:s,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:b,s:I,s:o,s:O,s:O,s:o,s:b,s:o,s:o,s:o,s:o,s:o}", "variant",
        FK_VARIANT_NAME, "vcpus", (json_int_t)c->vcpus, "ram_mib", (json_int_t)c->ram_mib, "root", fk_jstr(g->root),
        "virtiofs", fs, "disks", disks, "root_disk", fk_jstr(c->root_disk), "data_disk", fk_jstr(c->data_disk),
        "kernel", fk_jstr(c->kernel_path), "kernel_cmdline", fk_jstr(cmdline), "tsi", tsi, "nics",
        (json_int_t)(c->net_index + (c->legacy_net ? 1 : 0)), "legacy_net", fk_jstr(c->legacy_net), "port_map",
        c->port_map_set ? c->port_map : json_null(), "vsock_ports", c->vsock_ports, "gpu_virgl_flags",
        c->gpu_set ? json_integer(c->virgl_flags) : json_null(), "nested_virt", c->nested_virt, "console_output",
        fk_jstr(c->console_output), "setuid", c->has_uid ? json_integer(c->uid) : json_null(), "setgid",
        c->has_gid ? json_integer(c->gid) : json_null(), "tee_config", tee ? json_incref(tee) : json_null(),
        "firmware", fk_jstr(c->firmware));
    json_t *guest = json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:b,s:o,s:o}", "init", g->init, "config",
                              fk_jstr(g->config_path), "config_status",
                              g->config_status ? json_string(g->config_status) : json_null(), "argv",
                              fk_strv_json(&g->argv), "env", fk_strv_json(&g->env), "cwd", fk_jstr(g->cwd),
                              "hostname", fk_jstr(g->hostname), "hostname_set", g->hostname_set, "rlimits",
                              fk_jstr(g->rlimits), "tmpfs", fk_jstr(g->tmpfs));
    if (!vm)
        vm = json_pack("{s:s}", "error", "cannot encode the VM summary");
    json_object_set_new(vm, "guest", guest ? guest : json_null());
    return vm;
}

static void set_process_name(void)
{
    const char *h = getenv("HOSTNAME");
    _fk_free_ char *name = h ? fk_xasprintf("VM:%s", h) : fk_xstrdup("libkrun VM");
    prctl(PR_SET_NAME, name);
}

/* ---- Nitro ------------------------------------------------------------------------------ */

static int32_t nitro_start(uint32_t ctx_id, struct fk_ctx *c)
{
    if (!c->exec_path) {
        fk_logger_error("exec path not specified");
        return fail(ctx_id, c, -EINVAL);
    }
    if (!c->env || !c->args) {
        fk_logger_error("execution env/args not specified");
        return fail(ctx_id, c, -EINVAL);
    }
    size_t nnics = json_array_size(c->nics);
    if (nnics > 1) {
        fk_logger_error("more than one network interface configured (max 1 allowed, found %zu)", nnics);
        return fail(ctx_id, c, -EINVAL);
    }
    if (nnics == 1) {
        json_t *nic = json_array_get(c->nics, 0);
        if (strcmp(json_string_value(json_object_get(nic, "kind")), "unixstream") != 0 ||
            json_integer_value(json_object_get(nic, "fd")) < 0)
            return fail(ctx_id, c, -EINVAL);
    }
    if (!c->console_output) {
        fk_logger_error("console output path not specified");
        return fail(ctx_id, c, -EINVAL);
    }
    if (device_check("/dev/nitro_enclaves") < 0)
        return fail(ctx_id, c, -EINVAL);

    struct guest g = {.init = "nitro", .root = fk_xstrdup("/")};
    fk_strv_push(&g.argv, c->exec_path);
    split_quoted(c->args, &g.argv, false);
    split_quoted(c->env, &g.env, true);
    g.hostname = fk_xstrdup("localhost");
    fk_log_call("krun_start_enter", json_pack("{s:I}", "ctx_id", (json_int_t)ctx_id), false, 0,
                json_pack("{s:o}", "vm", vm_summary(c, &g, "", NULL)));
    int code = run_workload(&g, c->console_output, true);
    guest_free(&g);
    fk_ctx_free(c);
    /* The Nitro flow hands the application's return code back to the caller. */
    return code;
}

/* ---- krun_start_enter ------------------------------------------------------------------- */

int32_t fk_start_enter(uint32_t ctx_id)
{
    set_process_name();

    fk_lock();
    struct fk_ctx *c = fk_ctx_take(ctx_id);
    fk_unlock();
    if (!c)
        return fail(ctx_id, NULL, -ENOENT);

    if (FK_NITRO)
        return nitro_start(ctx_id, c);

    /* The guest kernel comes from libkrunfw unless a kernel or firmware was given. */
    if (!c->kernel_path && !c->firmware && !c->krunfw) {
        fprintf(stderr, "Couldn't find or load %s\n", FK_KRUNFW_NAME);
        return fail(ctx_id, c, -ENOENT);
    }

    /* Block devices are opened now: krun_add_disk* wins over the deprecated pair. */
    struct fk_strv disks = {0};
    for (size_t i = 0; i < c->ndisks; i++)
        fk_strv_push(&disks, c->disks[i].path);
    if (c->ndisks == 0) {
        if (c->root_disk)
            fk_strv_push(&disks, c->root_disk);
        if (c->data_disk)
            fk_strv_push(&disks, c->data_disk);
    }
    for (size_t i = 0; i < disks.n; i++) {
        bool ro = i < c->ndisks && c->disks[i].read_only;
        int fd = open(disks.v[i], (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        if (fd < 0) {
            fk_logger_error("Error configuring virtio-blk for block: %s: %s", disks.v[i], strerror(errno));
            fk_strv_clear(&disks);
            return fail(ctx_id, c, -EINVAL);
        }
        close(fd);
    }
    bool have_disk = disks.n > 0;
    fk_strv_clear(&disks);

    _fk_json_ json_t *tee = NULL;
    if (FK_TEE) {
        if (!c->tee_config_file) {
            fk_logger_error("Missing TEE config file");
            return fail(ctx_id, c, -EINVAL);
        }
        if (tee_config_load(c->tee_config_file, &tee) < 0) {
            fk_logger_error("Error setting up TEE config: %s", c->tee_config_file);
            return fail(ctx_id, c, -EINVAL);
        }
        /* The TEE config's cpus and ram_mib override krun_set_vm_config. */
        c->vcpus = (uint8_t)json_integer_value(json_object_get(tee, "cpus"));
        c->ram_mib = (uint32_t)json_integer_value(json_object_get(tee, "ram_mib"));
    }

    _fk_free_ char *cmdline = build_cmdline(c);
    if (strlen(cmdline) + 1 > KERNEL_CMDLINE_MAX) {
        fk_logger_error("Kernel command line too long (%zu bytes, limit %d)", strlen(cmdline) + 1,
                        KERNEL_CMDLINE_MAX);
        return fail(ctx_id, c, -EINVAL);
    }

    if (c->has_gid && setgid(c->gid) != 0) {
        int e = errno;
        fk_logger_error("Failed to set gid %u", (unsigned)c->gid);
        return fail(ctx_id, c, -e);
    }
    if (c->has_uid && setuid(c->uid) != 0) {
        int e = errno;
        fk_logger_error("Failed to set uid %u", (unsigned)c->uid);
        return fail(ctx_id, c, -e);
    }

    /* Building the VM: it needs a root filesystem and the hypervisor device. */
    const char *root = NULL;
    bool have_root_fs = false;
    for (size_t i = 0; i < c->nfs; i++) {
        if (strcmp(c->fs[i].tag, KRUN_FS_ROOT_TAG) == 0 && !have_root_fs) {
            have_root_fs = true;
            root = c->fs[i].path;
        }
    }
    if (FK_TEE ? !have_disk : !(have_root_fs || have_disk)) {
        fk_logger_error("Building the microVM failed: no root filesystem configured");
        return fail(ctx_id, c, -EINVAL);
    }
    if (device_check("/dev/kvm") < 0 || (FK_VARIANT == FK_V_SEV && device_check("/dev/sev") < 0))
        return fail(ctx_id, c, -EINVAL);

    /* The VM runs: from here on this is the guest. A disk or virtual-only root is
     * emulated with the VMM's own root directory. */
    struct guest g = {.init = strcmp(knob_or("FAKE_KRUN_INIT", "c"), "rust") == 0 ? "rust" : "c",
                      .root = fk_xstrdup(root ? root : "/")};
    guest_init(&g, c, cmdline);
    if (fk_uts_is_private() && sethostname(g.hostname, strlen(g.hostname)) == 0)
        g.hostname_set = true;

    fk_log_call("krun_start_enter", json_pack("{s:I}", "ctx_id", (json_int_t)ctx_id), false, 0,
                json_pack("{s:o}", "vm", vm_summary(c, &g, cmdline, tee)));

    int code = run_workload(&g, c->console_output, false);
    /* libkrun exits the process with the guest's exit code. */
    exit(code);
}
