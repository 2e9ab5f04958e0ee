/* Unit test of the /api/v1 routing table's roles (issue 14): every GET is a viewer's, every write needs a
 * developer at least, save the self-service ones the handler itself restricts; and the few routes a
 * developer may write are exactly the ones the role model gives it.  A new write route that forgot its role
 * (which would default to viewer) fails here. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "macro.h"

#include "tests.h"

/* Writes a viewer may send: the handler lets only the user itself (or an admin) through. */
static const char *const viewer_writes[] = { "PUT users/*/password", "POST session", "DELETE session" };

static const char *const developer_writes[] = {
        "POST projects/*/components/*/deploy",
        "POST projects/*/components/*/promote",
        "POST projects/*/components/*/rollback",
        "PUT projects/*/environments/*/configs/*",
        "DELETE projects/*/environments/*/configs/*",
        "PUT projects/*/components/*/environments/*/configs/*",
        "DELETE projects/*/components/*/environments/*/configs/*",
        "PUT projects/*/components/*/build-secrets/*",
        "DELETE projects/*/components/*/build-secrets/*",
        "POST projects/*/components/*/builds",
        "DELETE builds/*",
        "PUT projects/*/components/*/autobuild",
        "PUT projects/*/components/*/autodeploy",
        "POST tokens",
        "DELETE tokens/*",
};

static bool listed(const char *const *list, size_t n, const HttpRoute *rt) {
        char key[256];

        snprintf(key, sizeof key, "%s %s", rt->method, rt->pattern);
        for (size_t i = 0; i < n; i++)
                if (streq(list[i], key))
                        return true;
        return false;
}

int main(void) {
        size_t admin_only = 0;

        for (size_t i = 0; i < api_routes_n; i++) {
                const HttpRoute *rt = &api_routes[i];

                if (streq(rt->method, "GET")) {
                        /* the user list is an admin's; every other read a viewer's */
                        if (streq(rt->pattern, "users"))
                                CHECK(rt->min_role == HTTP_ROLE_ADMIN);
                        else
                                CHECK(rt->min_role == HTTP_ROLE_VIEWER);
                        continue;
                }
                if (listed(viewer_writes, ELEMENTSOF(viewer_writes), rt))
                        CHECK(rt->min_role == HTTP_ROLE_VIEWER);
                else if (listed(developer_writes, ELEMENTSOF(developer_writes), rt))
                        CHECK(rt->min_role == HTTP_ROLE_DEVELOPER);
                else {
                        if (rt->min_role != HTTP_ROLE_ADMIN)
                                TEST_FAIL("%s %s is a write but not an admin's", rt->method, rt->pattern);
                        admin_only++;
                }
        }
        CHECK(admin_only >= 15);
        return 0;
}
