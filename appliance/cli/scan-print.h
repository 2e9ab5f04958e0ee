/* How a scan is shown (`image scan`, `build show`): the SBOM's summary (packages per ecosystem), the
 * vulnerabilities, the secrets (file and layer, never the secret) and checks, and the policy's verdict.  The
 * document is the daemon's scan report (appliance/scan/scan-report.h), printed as it is with --json. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#define VULNDB_OLD_DAYS 30 /* vulndb status and image scan warn when the newest import is older */

typedef enum ScanPrintMode {
        SCAN_PRINT_IMAGE, /* an on-demand scan: the verdict is what a build would be told */
        SCAN_PRINT_BUILD, /* a build's scan step: the verdict is what it was told */
} ScanPrintMode;

void scan_print(json_t *doc, ScanPrintMode mode);
