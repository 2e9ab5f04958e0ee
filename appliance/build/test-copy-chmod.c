/* Unit tests for COPY/ADD --chmod: octal modes, chmod(1)'s symbolic forms applied to files and directories
 * (X, g=u, several clauses, "+x" with no class meaning all of them) and the forms refused with a reason. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "copy-chmod.h"
#include "macro.h"
#include "string-util.h"

#include "tests.h"

static const struct {
        const char *spec;
        mode_t before;
        bool is_dir;
        mode_t after;
} cases[] = {
        { "0755", 0600, false, 0755 },
        { "644", 0755, true, 0644 }, /* octal applies as is, to directories too */
        { "00640", 0777, false, 0640 },
        { "4755", 0644, false, 04755 },
        { "+x", 0644, false, 0755 }, /* no class: a, umask 0 */
        { "u+x", 0644, false, 0744 },
        { "go-w", 0666, false, 0644 },
        { "a=r", 0755, false, 0444 },
        { "u=rwx,g=rx,o=", 0600, false, 0750 },
        { "u=rwX,go=rX", 0600, false, 0644 }, /* X: not executable before, a file */
        { "u=rwX,go=rX", 0700, false, 0755 }, /* already executable */
        { "u=rwX,go=rX", 0700, true, 0755 },  /* a directory */
        { "u=rwX,go=rX", 0600, true, 0755 },
        { "g=u", 0640, false, 0660 },
        { "go=u-w", 0755, false, 0755 }, /* g=u then -w: 0755 */
        { "u+r-w", 0200, false, 0400 },  /* two actions in one clause */
        { "o-rwx", 0777, true, 0770 },
        { "ug+s", 0755, false, 06755 },
        { "+t", 0777, true, 01777 },
        { "u+t", 0755, true, 0755 }, /* t belongs to o and a only */
        { "=640", 0777, false, 0640 },
        { "+020", 0600, false, 0620 },
        { "a-x,u+x", 0777, false, 0766 },
        { "ugoa-rwxst", 07777, false, 0 },
};

static const struct {
        const char *spec;
        const char *reason;
} bad[] = {
        { "", "empty" },
        { "u+y", "one of r, w, x, X, s or t" },
        { "z+x", "expected u, g, o or a" },
        { "u", "no +, - or =" },
        { "u+x,", "no +, - or =" },
        { ",u+x", "no +, - or =" },
        { "17777", "at most 7777" },
        { "8", "expected u, g, o or a" },
        { "u=0755", "octal operand" },
        { "=77777", "at most 7777" },
};

int main(void) {
        CopyChmod c;
        char longspec[COPY_CHMOD_SPEC_MAX + 2];
        const char *why;

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                mode_t got;

                why = NULL;
                if (copy_chmod_parse(cases[k].spec, &c, &why) < 0)
                        TEST_FAIL("--chmod=%s refused: %s", cases[k].spec, why);
                got = copy_chmod_apply(&c, cases[k].before | (cases[k].is_dir ? S_IFDIR : S_IFREG),
                                       cases[k].is_dir);
                if (got != cases[k].after)
                        TEST_FAIL("--chmod=%s on %s %04o gave %04o, expected %04o", cases[k].spec,
                                  cases[k].is_dir ? "dir" : "file", (unsigned) cases[k].before,
                                  (unsigned) got, (unsigned) cases[k].after);
        }
        for (size_t k = 0; k < ELEMENTSOF(bad); k++) {
                why = NULL;
                if (copy_chmod_parse(bad[k].spec, &c, &why) != -EINVAL)
                        TEST_FAIL("--chmod=%s accepted", bad[k].spec);
                if (!why || !strstr(why, bad[k].reason))
                        TEST_FAIL("--chmod=%s: reason '%s', expected '%s'", bad[k].spec, strempty(why),
                                  bad[k].reason);
        }
        /* Limits: more actions than COPY_CHMOD_ACTIONS_MAX, and a value longer than COPY_CHMOD_SPEC_MAX. */
        memset(longspec, 0, sizeof longspec);
        for (size_t k = 0; k + 2 <= COPY_CHMOD_ACTIONS_MAX * 2 + 2 && k + 2 < sizeof longspec - 1; k += 2)
                memcpy(longspec + k, "+x", 2);
        CHECK(copy_chmod_parse(longspec, &c, &why) == -EINVAL && strstr(why, "too many"));
        memset(longspec, 'u', sizeof longspec - 1);
        longspec[sizeof longspec - 1] = 0;
        CHECK(copy_chmod_parse(longspec, &c, &why) == -EINVAL && strstr(why, "too long"));
        printf("test-copy-chmod: OK\n");
        return 0;
}
