/* A tiny test harness: CHECK records a failure and goes on. */
#pragma once
#include <stdio.h>
#include <string.h>

static int unit_failed, unit_passed;

#define CHECK(cond) do { \
        if (cond) unit_passed++; \
        else { unit_failed++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
    } while (0)

#define CHECK_CONTAINS(haystack, needle) do { \
        const char *_h = (haystack); \
        if (_h && strstr(_h, (needle))) unit_passed++; \
        else { unit_failed++; fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, _h ? _h : "(null)", (needle)); } \
    } while (0)

#define UNIT_DONE() do { \
        printf("%d passed, %d failed\n", unit_passed, unit_failed); \
        return unit_failed ? 1 : 0; \
    } while (0)
