/* linux.seccomp: parse errors, and the compiled filter's real behaviour in
 * forked children (actions, errnoRet, every operator, notify to a listener). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "seccomp.h"
#include "spec.h"
#include "unit.h"
#include "unixsock.h"

static const char base[] =
    "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},"
    "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0}},"
    "\"linux\":{\"namespaces\":[{\"type\":\"mount\"}]}}";

static int parse(const char *seccomp_json, struct spec **out, char **msg)
{
    json_t *doc = json_loads(base, 0, NULL);
    json_t *v = json_loads(seccomp_json, 0, NULL);
    if (!v) {
        fprintf(stderr, "bad test JSON: %s\n", seccomp_json);
        abort();
    }
    json_object_set_new(json_object_get(doc, "linux"), "seccomp", v);
    struct error *err = NULL;
    struct spec *spec = NULL;
    int r = spec_parse(doc, "/bundle", &spec, &err);
    *msg = r < 0 && err ? strdup(err->msg) : NULL;
    error_free(err);
    if (out)
        *out = spec;
    else
        spec_free(spec);
    return r;
}

#define EXPECT_ERROR(json, text) do { \
        char *_m = NULL; \
        CHECK(parse(json, NULL, &_m) < 0); \
        CHECK_CONTAINS(_m, text); \
        free(_m); \
    } while (0)

static void test_parse_errors(void)
{
    EXPECT_ERROR("{}", "linux.seccomp.defaultAction: missing required string");
    EXPECT_ERROR("{\"defaultAction\":\"SCMP_ACT_MAYBE\"}", "linux.seccomp.defaultAction: unknown seccomp action \"SCMP_ACT_MAYBE\"");
    EXPECT_ERROR("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_DENY\"}]}",
                 "linux.seccomp.syscalls[0].action: unknown seccomp action \"SCMP_ACT_DENY\"");
    EXPECT_ERROR("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\"},"
                 "{\"names\":[\"umask\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQ\"},"
                 "{\"index\":1,\"value\":1,\"op\":\"SCMP_CMP_BETWEEN\"}]}]}",
                 "linux.seccomp.syscalls[1].args[1].op: unknown seccomp operator \"SCMP_CMP_BETWEEN\"");
    EXPECT_ERROR("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_Z80\"]}",
                 "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_Z80\"");
    EXPECT_ERROR("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_FAST\"]}",
                 "linux.seccomp.flags[0]: unknown seccomp flag \"SECCOMP_FILTER_FLAG_FAST\"");
    EXPECT_ERROR("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"defaultErrnoRet\":5}",
                 "linux.seccomp.defaultErrnoRet: SCMP_ACT_ALLOW takes no errno");
    EXPECT_ERROR("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_KILL\",\"errnoRet\":1}]}",
                 "linux.seccomp.syscalls[0].errnoRet: SCMP_ACT_KILL takes no errno");
    EXPECT_ERROR("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[],\"action\":\"SCMP_ACT_ERRNO\"}]}",
                 "linux.seccomp.syscalls[0].names: must list at least one syscall");
    EXPECT_ERROR("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"action\":\"SCMP_ACT_ERRNO\"}]}",
                 "linux.seccomp.syscalls[0].names: must list at least one syscall");
    EXPECT_ERROR("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"umask\"],\"action\":\"SCMP_ACT_ERRNO\","
                 "\"args\":[{\"index\":6,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
                 "linux.seccomp.syscalls[0].args[0].index: 6 is not a syscall argument");
    EXPECT_ERROR("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"umask\"],\"action\":\"SCMP_ACT_ERRNO\","
                 "\"args\":[{\"index\":0,\"op\":\"SCMP_CMP_EQ\"}]}]}",
                 "linux.seccomp.syscalls[0].args[0].value: missing required integer");
    EXPECT_ERROR("{\"defaultAction\":\"SCMP_ACT_NOTIFY\",\"listenerPath\":\"/run/x.sock\"}",
                 "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
    EXPECT_ERROR("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
                 "linux.seccomp.listenerPath: required when a rule uses SCMP_ACT_NOTIFY");
    EXPECT_ERROR("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"/run/x.sock\",\"syscalls\":[{\"names\":[\"mkdir\",\"sendmsg\"],"
                 "\"action\":\"SCMP_ACT_NOTIFY\"}]}",
                 "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for sendmsg");
    EXPECT_ERROR("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerMetadata\":\"m\"}",
                 "linux.seccomp.listenerMetadata: set without listenerPath");
    EXPECT_ERROR("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"rel.sock\",\"syscalls\":[{\"names\":[\"mkdir\"],"
                 "\"action\":\"SCMP_ACT_NOTIFY\"}]}", "linux.seccomp.listenerPath: \"rel.sock\" is not an absolute path");
    EXPECT_ERROR("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":70000}", "linux.seccomp.defaultErrnoRet: 70000 is out of range");
    EXPECT_ERROR("{\"defaultAction\":1}", "linux.seccomp.defaultAction: expected a string");
    EXPECT_ERROR("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":{}}", "linux.seccomp.syscalls: expected an array");

    char *m = NULL;
    /* unknown syscall names are skipped; known flags and arches are fine */
    CHECK(parse("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"],"
                "\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\",\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\",\"SECCOMP_FILTER_FLAG_TSYNC\"],"
                "\"syscalls\":[{\"names\":[\"no_such_syscall\",\"mkdir\",\"socketcall\"],\"action\":\"SCMP_ACT_ERRNO\"}]}",
                NULL, &m) == 0);
    CHECK(m == NULL);
    free(m);
}

/* ---- behaviour ---- */

static long arg_a, arg_b;
typedef int (*body_fn)(void);

/* Fork; the child sets no_new_privs, loads the filter and runs body; return
 * the wait status. */
static int run_filtered(const struct seccomp_profile *p, body_fn body)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct error *err = NULL;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
            _exit(200);
        if (seccomp_profile_apply(p, -1, NULL, &err) < 0) {
            fprintf(stderr, "apply: %s\n", err->msg);
            _exit(201);
        }
        _exit(body());
    }
    int status = -1;
    waitpid(pid, &status, 0);
    return status;
}

static int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

/* errno of the syscall, 0 when it succeeded */
static int body_umask(void) { return syscall(SYS_umask, arg_a) == -1 ? errno : 0; }
static int body_mkdir(void) { return mkdir("/proc/krunc-no-such-dir/x", 0700) == -1 ? errno : 0; }
static int body_mkdirat(void) { return mkdirat(AT_FDCWD, "/proc/krunc-no-such-dir/x", 0700) == -1 ? errno : 0; }
static int body_getpriority(void) { return syscall(SYS_getpriority, arg_a, arg_b) == -1 ? errno : 0; }

static struct spec *must_parse(const char *json)
{
    struct spec *spec = NULL;
    char *m = NULL;
    if (parse(json, &spec, &m) < 0) {
        fprintf(stderr, "parse failed: %s\n  for %s\n", m, json);
        unit_failed++;
    }
    free(m);
    /* every other profile is compiled ahead, the rest when applied */
    static int n;
    struct error *err = NULL;
    if (spec && n++ % 2 && seccomp_profile_compile(spec->linux.seccomp, &err) < 0) {
        fprintf(stderr, "compile failed: %s\n  for %s\n", err->msg, json);
        unit_failed++;
    }
    error_free(err);
    return spec;
}

static void test_errno_rules(void)
{
    struct spec *s = must_parse("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],"
                                "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":18}]}");
    if (s) {
        CHECK(exit_code(run_filtered(s->linux.seccomp, body_mkdir)) == EXDEV);
        CHECK(exit_code(run_filtered(s->linux.seccomp, body_mkdirat)) == EXDEV);
    }
    spec_free(s);
    /* without errnoRet: EPERM; without a rule: the real error */
    s = must_parse("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdirat\",\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\"}]}");
    if (s)
        CHECK(exit_code(run_filtered(s->linux.seccomp, body_mkdir)) == EPERM);
    spec_free(s);
    s = must_parse("{\"defaultAction\":\"SCMP_ACT_ALLOW\"}");
    if (s)
        CHECK(exit_code(run_filtered(s->linux.seccomp, body_mkdir)) == ENOENT);
    spec_free(s);
    /* an allow list with defaultErrnoRet: only exit is allowed */
    s = must_parse("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,\"syscalls\":[{\"names\":[\"exit_group\",\"exit\"],"
                   "\"action\":\"SCMP_ACT_ALLOW\"}]}");
    if (s) {
        arg_a = 022;
        CHECK(exit_code(run_filtered(s->linux.seccomp, body_umask)) == ENOSYS);
        CHECK(exit_code(run_filtered(s->linux.seccomp, body_mkdir)) == ENOSYS);
    }
    spec_free(s);
}

static void test_actions(void)
{
    struct { const char *action; int want_signal; int want_errno; } cases[] = {
        { "SCMP_ACT_TRAP", SIGSYS, -1 },
        { "SCMP_ACT_KILL", SIGSYS, -1 },
        { "SCMP_ACT_KILL_THREAD", SIGSYS, -1 },
        { "SCMP_ACT_KILL_PROCESS", SIGSYS, -1 },
        { "SCMP_ACT_LOG", 0, 0 },
        { "SCMP_ACT_ALLOW", 0, 0 },
        { "SCMP_ACT_TRACE", 0, ENOSYS },        /* no tracer: the syscall fails with ENOSYS */
    };
    arg_a = 022;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char json[512];
        snprintf(json, sizeof(json), "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"umask\"],\"action\":\"%s\"}]}",
                 cases[i].action);
        struct spec *s = must_parse(json);
        if (!s)
            continue;
        int st = run_filtered(s->linux.seccomp, body_umask);
        if (cases[i].want_signal) {
            CHECK(WIFSIGNALED(st) && WTERMSIG(st) == cases[i].want_signal);
        } else {
            CHECK(exit_code(st) == cases[i].want_errno);
        }
        if (!(cases[i].want_signal ? WIFSIGNALED(st) && WTERMSIG(st) == cases[i].want_signal : exit_code(st) == cases[i].want_errno))
            fprintf(stderr, "  action %s: wait status 0x%x\n", cases[i].action, st);
        spec_free(s);
    }
}

static void test_operators(void)
{
    struct { const char *op; unsigned long value, value_two; long denied[3], allowed[3]; } cases[] = {
        { "SCMP_CMP_NE", 5, 0, { 6, 0, 0777 }, { 5, 5, 5 } },
        { "SCMP_CMP_LT", 5, 0, { 4, 0, 1 }, { 5, 6, 0777 } },
        { "SCMP_CMP_LE", 5, 0, { 5, 4, 0 }, { 6, 7, 0777 } },
        { "SCMP_CMP_EQ", 5, 0, { 5, 5, 5 }, { 4, 6, 0 } },
        { "SCMP_CMP_GE", 5, 0, { 5, 6, 0777 }, { 4, 0, 1 } },
        { "SCMP_CMP_GT", 5, 0, { 6, 7, 0777 }, { 5, 4, 0 } },
        /* value is the mask, valueTwo the datum: (arg & 0700) == 0700 */
        { "SCMP_CMP_MASKED_EQ", 0700, 0700, { 0777, 0700, 0701 }, { 0077, 0600, 0 } },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char json[512];
        snprintf(json, sizeof(json),
                 "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"umask\"],\"action\":\"SCMP_ACT_ERRNO\","
                 "\"errnoRet\":18,\"args\":[{\"index\":0,\"value\":%lu,\"valueTwo\":%lu,\"op\":\"%s\"}]}]}",
                 cases[i].value, cases[i].value_two, cases[i].op);
        struct spec *s = must_parse(json);
        if (!s)
            continue;
        for (int k = 0; k < 3; k++) {
            arg_a = cases[i].denied[k];
            int got = exit_code(run_filtered(s->linux.seccomp, body_umask));
            CHECK(got == EXDEV);
            if (got != EXDEV)
                fprintf(stderr, "  %s: umask(0%lo) gave %d, wanted EXDEV\n", cases[i].op, (unsigned long)arg_a, got);
            arg_a = cases[i].allowed[k];
            got = exit_code(run_filtered(s->linux.seccomp, body_umask));
            CHECK(got == 0);
            if (got != 0)
                fprintf(stderr, "  %s: umask(0%lo) gave %d, wanted success\n", cases[i].op, (unsigned long)arg_a, got);
        }
        spec_free(s);
    }

    /* two conditions on one argument: each is a rule of its own (OR) */
    struct spec *s = must_parse("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"umask\"],\"action\":\"SCMP_ACT_ERRNO\","
                                "\"errnoRet\":18,\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQ\"},"
                                "{\"index\":0,\"value\":2,\"op\":\"SCMP_CMP_EQ\"}]}]}");
    if (s) {
        arg_a = 1;
        CHECK(exit_code(run_filtered(s->linux.seccomp, body_umask)) == EXDEV);
        arg_a = 2;
        CHECK(exit_code(run_filtered(s->linux.seccomp, body_umask)) == EXDEV);
        arg_a = 3;
        CHECK(exit_code(run_filtered(s->linux.seccomp, body_umask)) == 0);
    }
    spec_free(s);
    /* conditions on different arguments: all must hold (AND) */
    s = must_parse("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getpriority\"],\"action\":\"SCMP_ACT_ERRNO\","
                   "\"errnoRet\":18,\"args\":[{\"index\":0,\"value\":0,\"op\":\"SCMP_CMP_EQ\"},"
                   "{\"index\":1,\"value\":987654,\"op\":\"SCMP_CMP_EQ\"}]}]}");
    if (s) {
        arg_a = PRIO_PROCESS, arg_b = 987654;
        CHECK(exit_code(run_filtered(s->linux.seccomp, body_getpriority)) == EXDEV);
        arg_a = PRIO_PGRP, arg_b = 987654;      /* the rule does not match: the kernel's own answer */
        CHECK(exit_code(run_filtered(s->linux.seccomp, body_getpriority)) == ESRCH);
        arg_a = PRIO_PROCESS, arg_b = 0;
        CHECK(exit_code(run_filtered(s->linux.seccomp, body_getpriority)) == 0);
    }
    spec_free(s);
}

/* ---- notify ---- */

static void test_notify(void)
{
    char dir[] = "/tmp/krunc-unit-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(!"mkdtemp");
        return;
    }
    char path[256];
    snprintf(path, sizeof(path), "%s/listener.sock", dir);
    int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    strcpy(sa.sun_path, path);
    CHECK(bind(ls, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    CHECK(listen(ls, 1) == 0);

    char json[1024];
    snprintf(json, sizeof(json),
             "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"%s\",\"listenerMetadata\":\"krunc-meta\","
             "\"flags\":[\"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\"],"
             "\"syscalls\":[{\"names\":[\"umask\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}", path);
    struct spec *s = must_parse(json);
    if (!s)
        goto out;

    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct error *err = NULL;
        int lfd = -1;
        if (seccomp_listener_connect(s->linux.seccomp, &lfd, &err) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
            seccomp_profile_apply(s->linux.seccomp, lfd,
                                  "{\"ociVersion\":\"1.2.0\",\"id\":\"ctr\",\"status\":\"running\",\"pid\":4242,\"bundle\":\"/b\"}",
                                  &err) < 0) {
            fprintf(stderr, "child: %s\n", err ? err->msg : "?");
            _exit(100);
        }
        long r = syscall(SYS_umask, 022);
        _exit(r == 77 ? 0 : 101);
    }
    int conn = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    CHECK(conn >= 0);
    char *payload = NULL;
    int nfd = -1;
    struct error *err = NULL;
    CHECK(unix_recv_fd(conn, &payload, &nfd, &err) == 0);
    if (err)
        fprintf(stderr, "recv: %s\n", err->msg);
    error_free(err);
    json_t *msg = payload ? json_loads(payload, 0, NULL) : NULL;
    CHECK(msg != NULL);
    if (msg) {
        json_t *fds = json_object_get(msg, "fds");
        CHECK(json_is_array(fds) && json_array_size(fds) == 1 &&
              strcmp(json_string_value(json_array_get(fds, 0)) ?: "", "seccompFd") == 0);
        CHECK(json_integer_value(json_object_get(msg, "pid")) == 4242);
        CHECK(strcmp(json_string_value(json_object_get(msg, "metadata")) ?: "", "krunc-meta") == 0);
        CHECK(strcmp(json_string_value(json_object_get(msg, "ociVersion")) ?: "", "1.2.0") == 0);
        json_t *st = json_object_get(msg, "state");
        CHECK(strcmp(json_string_value(json_object_get(st, "id")) ?: "", "ctr") == 0);
        CHECK(strcmp(json_string_value(json_object_get(st, "status")) ?: "", "running") == 0);
        json_decref(msg);
    }
    /* the connection is closed after the one message */
    char c;
    CHECK(read(conn, &c, 1) == 0);
    if (nfd >= 0) {
        struct seccomp_notif req;
        memset(&req, 0, sizeof(req));
        CHECK(ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, &req) == 0);
        CHECK(req.data.nr == SYS_umask && req.data.args[0] == 022 && req.pid == (unsigned)pid);
        struct seccomp_notif_resp resp = { .id = req.id, .val = 77, .error = 0, .flags = 0 };
        CHECK(ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0);
        close(nfd);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(exit_code(status) == 0);
    free(payload);
    close(conn);
    spec_free(s);
out:
    close(ls);
    unlink(path);
    rmdir(dir);
}

/* A long allow list like the ones container engines generate: every syscall
 * the headers know except mkdir/mkdirat, default ERRNO. */
static void test_big_profile(void)
{
    json_t *names = json_array();
    FILE *f = fopen("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "r");
    if (!f) {
        printf("SKIP big profile: no x86_64 syscall header\n");
        json_decref(names);
        return;
    }
    char line[256], name[128];
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "#define __NR_%127s", name) == 1 && strcmp(name, "mkdir") && strcmp(name, "mkdirat"))
            json_array_append_new(names, json_string(name));
    fclose(f);
    size_t n = json_array_size(names);
    json_t *prof = json_pack("{s:s, s:i, s:[s,s,s], s:[{s:o, s:s}]}", "defaultAction", "SCMP_ACT_ERRNO", "defaultErrnoRet", 18,
                             "architectures", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "syscalls", "names", names,
                             "action", "SCMP_ACT_ALLOW");
    char *text = json_dumps(prof, 0);
    json_decref(prof);
    struct timespec a, b, c;
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct spec *s = NULL;
    char *m = NULL;
    CHECK(parse(text, &s, &m) == 0);
    free(m);
    clock_gettime(CLOCK_MONOTONIC, &b);
    struct error *err = NULL;
    CHECK(s && seccomp_profile_compile(s->linux.seccomp, &err) == 0);
    error_free(err);
    clock_gettime(CLOCK_MONOTONIC, &c);
    printf("a %zu-syscall 3-arch allow list: parse %.2f ms, compile %.2f ms\n", n,
           (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6,
           (double)(c.tv_sec - b.tv_sec) * 1e3 + (double)(c.tv_nsec - b.tv_nsec) / 1e6);
    if (s) {
        CHECK(exit_code(run_filtered(s->linux.seccomp, body_mkdir)) == EXDEV);
        arg_a = 022;
        CHECK(exit_code(run_filtered(s->linux.seccomp, body_umask)) == 0);
    }
    spec_free(s);
    free(text);
}

static void test_names(void)
{
    const char *const *a = seccomp_known_actions();
    int n = 0;
    for (; a[n]; n++)
        ;
    CHECK(n == 9);
    CHECK(strcmp(seccomp_known_operators()[6], "SCMP_CMP_MASKED_EQ") == 0);
    CHECK(strcmp(seccomp_known_archs()[1], "SCMP_ARCH_X86_64") == 0);
    CHECK(strcmp(seccomp_known_flags()[0], "SECCOMP_FILTER_FLAG_TSYNC") == 0);
}

int main(void)
{
    test_names();
    test_parse_errors();
    test_errno_rules();
    test_actions();
    test_operators();
    test_notify();
    test_big_profile();
    UNIT_DONE();
}
