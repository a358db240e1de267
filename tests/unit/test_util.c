#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "state.h"
#include "util.h"
#include "unit.h"

static void test_signals(void)
{
    CHECK(signal_from_string("TERM") == SIGTERM);
    CHECK(signal_from_string("SIGTERM") == SIGTERM);
    CHECK(signal_from_string("sigkill") == SIGKILL);
    CHECK(signal_from_string("9") == SIGKILL);
    CHECK(signal_from_string("SIGRTMIN+2") == SIGRTMIN + 2);
    CHECK(signal_from_string("RTMAX-1") == SIGRTMAX - 1);
    CHECK(signal_from_string("RTMAX") == SIGRTMAX);
    CHECK(signal_from_string("FOO") == -1);
    CHECK(signal_from_string("0") == -1);
    CHECK(signal_from_string("65") == -1);
    CHECK(signal_from_string("9x") == -1);
    CHECK(signal_from_string("") == -1);
    CHECK(signal_from_string("RTMIN-1") == -1);
}

static void test_ids(void)
{
    CHECK(state_check_id("abc-1.2_x+y", NULL) == 0);
    CHECK(state_check_id("", NULL) < 0);
    CHECK(state_check_id(".", NULL) < 0);
    CHECK(state_check_id("..", NULL) < 0);
    CHECK(state_check_id("a/b", NULL) < 0);
    CHECK(state_check_id("a b", NULL) < 0);
    struct error *err = NULL;
    CHECK(state_check_id("../x", &err) < 0);
    CHECK_CONTAINS(err ? err->msg : NULL, "invalid container id");
    error_free(err);
}

/* Field 22 of /proc/self/stat, as another program reads it. */
static void test_start_time(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "awk '{print $22}' /proc/%d/stat", (int)getpid());
    FILE *f = popen(cmd, "r");
    unsigned long long want = 0;
    CHECK(f && fscanf(f, "%llu", &want) == 1);
    if (f)
        pclose(f);
    CHECK(want != 0);
    CHECK(proc_start_time(getpid()) == want);
    CHECK(proc_start_time(0x3fffffff) == 0);
}

int main(void)
{
    test_signals();
    test_ids();
    test_start_time();
    UNIT_DONE();
}
