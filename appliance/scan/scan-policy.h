/* The scan policy: whether an image's findings fail its build, and why in one sentence.  A pure function of
 * the findings (vulnerabilities with a severity; checks of kind "secret" or "config"), the ids an ignore list
 * waives and the threshold (a project's scan_fail_on): it reads its inputs and changes none of them. */
#pragma once

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>

#include "scan-ignore.h"

typedef enum ScanFailOn {
        SCAN_FAIL_ON_CRITICAL, /* CRITICAL vulnerabilities and secrets fail the build (the default) */
        SCAN_FAIL_ON_HIGH,     /* HIGH or CRITICAL vulnerabilities and secrets */
        SCAN_FAIL_ON_NONE,     /* nothing fails it: the findings are only kept */
        _SCAN_FAIL_ON_MAX,
        _SCAN_FAIL_ON_INVALID = -EINVAL,
} ScanFailOn;

const char *scan_fail_on_to_string(ScanFailOn f);
ScanFailOn scan_fail_on_from_string(const char *s);
/* A project's setting: NULL or "" is the default (critical); else as scan_fail_on_from_string(). */
ScanFailOn scan_fail_on_from_setting(const char *s);

#define SCAN_POLICY_IDS_SHOWN 3U /* ids a reason names before "and N more" */

typedef struct ScanVerdict {
        bool fail;
        unsigned n_blocking; /* findings at or above the threshold that no ignore entry waives */
        unsigned n_waived;   /* findings at or above the threshold that one does */
        json_t *blocking;    /* the distinct ids of the blocking findings, in order (an array, never NULL) */
        char *reason;        /* when fail: one sentence naming the first ids; else NULL */
} ScanVerdict;

void scan_verdict_done(ScanVerdict *v);

/* A finding (an element of findings or checks) that fails a build at this threshold, waived or not. */
bool scan_policy_counts(const json_t *finding, bool is_check, ScanFailOn fail_on);

/* findings: vulnerabilities {"id", "severity"}; checks: {"id", "kind" ("secret" or "config"), "severity"};
 * either may be NULL.  ignore may be NULL.  -EINVAL for an invalid fail_on, -ENOMEM. */
int scan_policy_decide(const json_t *findings, const json_t *checks, const ScanIgnore *ignore,
                       ScanFailOn fail_on, ScanVerdict *ret);
