/* Strict HTTP/1.x head parser.  Every byte of the head is checked against the RFC 9110/9112
 * grammar; anything that two parsers could read differently is rejected rather than repaired. */
#include "http-parser.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "macro.h"

/* tchar per RFC 9110 5.6.2 */
static const unsigned char token_table[256] = {
        ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1, ['-'] = 1,
        ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,  ['0'] = 1, ['1'] = 1, ['2'] = 1,
        ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1,  ['9'] = 1, ['A'] = 1, ['B'] = 1,
        ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,  ['I'] = 1, ['J'] = 1, ['K'] = 1,
        ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1,  ['R'] = 1, ['S'] = 1, ['T'] = 1,
        ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,  ['a'] = 1, ['b'] = 1, ['c'] = 1,
        ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,  ['j'] = 1, ['k'] = 1, ['l'] = 1,
        ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,  ['s'] = 1, ['t'] = 1, ['u'] = 1,
        ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static inline bool is_token(unsigned char c) {
        return token_table[c];
}

/* field-vchar / SP / HTAB / obs-text: everything but CTLs (HTAB allowed) and DEL. */
static inline bool is_field_char(unsigned char c) {
        return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int find_head_end(const char *buf, size_t len, size_t *scan, bool bare_lf) {
        size_t i = *scan;
        const char *p;

        for (;;) {
                if (i >= len)
                        break;
                p = memchr(buf + i, '\n', len - i);
                if (!p)
                        break;
                i = (size_t) (p - buf);
                /* An empty line ends the head: CRLF CRLF, or with bare_lf also LF LF, CRLF LF, LF CRLF. */
                if ((i >= 3 && p[-1] == '\r' && p[-2] == '\n' && p[-3] == '\r') ||
                    (bare_lf && i >= 1 && p[-1] == '\n') ||
                    (bare_lf && i >= 2 && p[-1] == '\r' && p[-2] == '\n')) {
                        if (i + 1 > HTTP_HEAD_MAX)
                                return -EMSGSIZE;
                        return (int) (i + 1);
                }
                i++;
        }
        /* resume a little before the end so a terminator split across reads is found */
        *scan = len >= 3 ? len - 3 : 0;
        if (len >= HTTP_HEAD_MAX)
                return -EMSGSIZE;
        return 0;
}

int http_find_head_end(const char *buf, size_t len, size_t *scan) {
        return find_head_end(buf, len, scan, false);
}

int http_find_response_head_end(const char *buf, size_t len, size_t *scan) {
        return find_head_end(buf, len, scan, true);
}

int http_find_request_head_end_lenient(const char *buf, size_t len, size_t *scan) {
        return find_head_end(buf, len, scan, true);
}

bool http_name_eq(const HttpHeader *h, const char *name) {
        size_t n = strlen(name);
        return h->name_len == n && strncasecmp(h->name, name, n) == 0;
}

bool http_list_has(const char *value, size_t len, const char *token) {
        size_t tl = strlen(token), i = 0;

        while (i < len) {
                size_t s, e;

                while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
                        i++;
                s = i;
                while (i < len && value[i] != ',')
                        i++;
                e = i;
                while (e > s && (value[e - 1] == ' ' || value[e - 1] == '\t'))
                        e--;
                if (e - s == tl && strncasecmp(value + s, token, tl) == 0)
                        return true;
        }
        return false;
}

bool http_is_hop_by_hop(const HttpHeader *h) {
        return http_name_eq(h, "connection") || http_name_eq(h, "keep-alive") || http_name_eq(h, "te") ||
               http_name_eq(h, "trailer") || http_name_eq(h, "upgrade") ||
               http_name_eq(h, "transfer-encoding") ||
               (h->name_len >= 6 && strncasecmp(h->name, "proxy-", 6) == 0);
}

bool http_head_connection_lists(const HttpHead *head, const HttpHeader *h) {
        char name[64];

        if (head->n_connection == 0 || h->name_len >= sizeof(name))
                return false;
        memcpy(name, h->name, h->name_len);
        name[h->name_len] = 0;
        for (size_t i = 0; i < head->n_headers; i++) {
                const HttpHeader *c = &head->headers[i];
                if (http_name_eq(c, "connection") && http_list_has(c->value, c->value_len, name))
                        return true;
        }
        return false;
}

static int fail(HttpHead *h, HttpError *ret_error, HttpError e, const char *why) {
        h->error_detail = why;
        if (ret_error)
                *ret_error = e;
        return -EBADMSG;
}

/* Parses "HTTP/1.x" at p (exactly 8 bytes). */
static int parse_version(const char *p, size_t n, int *ret_minor) {
        if (n != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' || p[5] < '0' || p[5] > '9' || p[7] < '0' ||
            p[7] > '9')
                return -EBADMSG;
        if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
                return -EPROTONOSUPPORT;
        *ret_minor = p[7] - '0';
        return 0;
}

static int parse_content_length(const char *v, size_t n, uint64_t *ret) {
        uint64_t x = 0;

        if (n == 0 || n > HTTP_CONTENT_LENGTH_DIGITS_MAX)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++) {
                if (v[i] < '0' || v[i] > '9')
                        return -EBADMSG;
                x = x * 10 + (uint64_t) (v[i] - '0');
        }
        *ret = x;
        return 0;
}

static bool host_valid(const char *v, size_t n) {
        if (n == 0 || n > 255)
                return false;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) v[i];
                /* reg-name / IP-literal / port characters; no whitespace, '/', '@', '?', '#' */
                if (!(is_token(c) || c == ':' || c == '[' || c == ']') || c == '|' || c == '`' || c == '^')
                        return false;
        }
        return true;
}

/* Parses the header fields after the start line; start points at the first header line. */
static int parse_fields(const char *buf, size_t len, size_t start, bool is_request, HttpHead *h,
                        HttpError *ret_error) {
        size_t i = start;
        unsigned n_cl = 0, n_te = 0, n_host = 0;
        bool te_chunked = false, has_upgrade = false, conn_upgrade = false, conn_close = false,
             conn_keep_alive = false;

        for (;;) {
                const char *line = buf + i, *nl, *colon;
                size_t line_len;
                HttpHeader *f;

                nl = memchr(line, '\n', len - i);
                if (!nl)
                        return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST, "unterminated header");
                if (nl == line || nl[-1] != '\r') {
                        /* Requests must end lines in CRLF (a bare LF is a smuggling vector between
                         * parsers); upstream responses may end them in LF alone, as nginx accepts. */
                        if (is_request)
                                return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST, "bare LF in header");
                        line_len = (size_t) (nl - line);
                } else
                        line_len = (size_t) (nl - line) - 1;
                i = (size_t) (nl - buf) + 1;
                if (line_len == 0)
                        break; /* end of head */
                if (line[0] == ' ' || line[0] == '\t')
                        return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST, "obsolete line folding");
                if (h->n_headers >= HTTP_HEADERS_MAX)
                        return fail(h, ret_error, HTTP_ERROR_TOO_LARGE, "too many header fields");

                colon = memchr(line, ':', line_len);
                if (!colon || colon == line)
                        return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST, "header field without name");
                for (const char *c = line; c < colon; c++)
                        if (!is_token((unsigned char) *c))
                                return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST,
                                            "invalid character in header name");

                f = &h->headers[h->n_headers++];
                f->name = line;
                f->name_len = (size_t) (colon - line);
                {
                        const char *vs = colon + 1, *ve = line + line_len;
                        for (const char *c = vs; c < ve; c++)
                                if (!is_field_char((unsigned char) *c))
                                        return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST,
                                                    "control character in header value");
                        while (vs < ve && (*vs == ' ' || *vs == '\t'))
                                vs++;
                        while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t'))
                                ve--;
                        f->value = vs;
                        f->value_len = (size_t) (ve - vs);
                }

                if (http_name_eq(f, "content-length")) {
                        if (++n_cl > 1)
                                return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST, "repeated Content-Length");
                        if (parse_content_length(f->value, f->value_len, &h->content_length) < 0)
                                return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST, "invalid Content-Length");
                } else if (http_name_eq(f, "transfer-encoding")) {
                        if (++n_te > 1)
                                return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST,
                                            "repeated Transfer-Encoding");
                        if (f->value_len != 7 || strncasecmp(f->value, "chunked", 7) != 0)
                                return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST,
                                            "Transfer-Encoding other than chunked");
                        te_chunked = true;
                } else if (http_name_eq(f, "host")) {
                        if (++n_host > 1)
                                return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST, "repeated Host");
                        h->host = f->value;
                        h->host_len = f->value_len;
                } else if (http_name_eq(f, "connection")) {
                        h->n_connection++;
                        if (http_list_has(f->value, f->value_len, "close"))
                                conn_close = true;
                        if (http_list_has(f->value, f->value_len, "keep-alive"))
                                conn_keep_alive = true;
                        if (http_list_has(f->value, f->value_len, "upgrade"))
                                conn_upgrade = true;
                } else if (http_name_eq(f, "upgrade"))
                        has_upgrade = f->value_len > 0;
                else if (is_request && http_name_eq(f, "expect")) {
                        if (f->value_len == 12 && strncasecmp(f->value, "100-continue", 12) == 0)
                                h->expect_continue = true;
                }
        }
        h->head_len = i;

        if (n_cl && n_te)
                return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST,
                            "Content-Length together with Transfer-Encoding");
        if (te_chunked && h->version_minor == 0)
                return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST, "Transfer-Encoding in HTTP/1.0");
        if (is_request) {
                if (h->version_minor == 1 && n_host == 0)
                        return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST, "missing Host header");
                if (h->host && !host_valid(h->host, h->host_len))
                        return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST, "invalid Host header");
        }

        h->has_length = n_cl > 0;
        h->body = te_chunked ? HTTP_BODY_CHUNKED : n_cl ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
        if (h->body == HTTP_BODY_LENGTH && h->content_length == 0)
                h->body = HTTP_BODY_NONE;
        h->conn_close = conn_close || (h->version_minor == 0 && !conn_keep_alive);
        h->conn_upgrade = conn_upgrade && has_upgrade;
        return 0;
}

static void head_reset(HttpHead *h) {
        /* only the scalar part; the header array is filled as needed */
        memset(h, 0, offsetof(HttpHead, headers));
        h->n_headers = 0;
        h->n_connection = 0;
        h->head_len = 0;
        h->body = HTTP_BODY_NONE;
        h->content_length = 0;
        h->host = NULL;
        h->host_len = 0;
        h->conn_close = h->conn_upgrade = h->expect_continue = h->is_head_method = h->has_length = false;
        h->error_detail = NULL;
}

/* What both kinds of head start with: resets h, checks the size and finds the start line.
 * *ret_line_len is its length without the line end, *ret_fields where the header fields begin.
 * Requests must end the start line in CRLF; a bare LF is accepted from upstreams. */
static inline int parse_start_line(const char *buf, size_t len, bool is_request, HttpHead *h,
                                   HttpError *ret_error, size_t *ret_line_len, size_t *ret_fields) {
        const char *nl;

        head_reset(h);
        if (ret_error)
                *ret_error = HTTP_ERROR_NONE;
        if (len > HTTP_HEAD_MAX)
                return fail(h, ret_error, HTTP_ERROR_TOO_LARGE, "head too large");

        nl = memchr(buf, '\n', len);
        if (!nl || nl == buf || (is_request && nl[-1] != '\r'))
                return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST,
                            is_request ? "malformed request line" : "malformed status line");
        *ret_line_len = (size_t) (nl - buf) - (nl[-1] == '\r');
        *ret_fields = (size_t) (nl - buf) + 1;
        return 0;
}

int http_request_parse(const char *buf, size_t len, HttpHead *h, HttpError *ret_error) {
        const char *sp1, *sp2, *end;
        size_t line_len, fields;
        int r;

        r = parse_start_line(buf, len, true, h, ret_error, &line_len, &fields);
        if (r < 0)
                return r;
        end = buf + line_len;

        sp1 = memchr(buf, ' ', line_len);
        if (!sp1 || sp1 == buf)
                return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST, "malformed request line");
        for (const char *c = buf; c < sp1; c++)
                if (!is_token((unsigned char) *c))
                        return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST, "invalid method");
        sp2 = memchr(sp1 + 1, ' ', (size_t) (end - sp1 - 1));
        if (!sp2 || sp2 == sp1 + 1)
                return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST, "malformed request line");
        for (const char *c = sp1 + 1; c < sp2; c++)
                if ((unsigned char) *c <= 0x20 || *c == 0x7f)
                        return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST,
                                    "control character in request target");
        r = parse_version(sp2 + 1, (size_t) (end - sp2 - 1), &h->version_minor);
        if (r == -EPROTONOSUPPORT)
                return fail(h, ret_error, HTTP_ERROR_VERSION, "unsupported HTTP version");
        if (r < 0)
                return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST, "malformed request line");

        h->method = buf;
        h->method_len = (size_t) (sp1 - buf);
        h->target = sp1 + 1;
        h->target_len = (size_t) (sp2 - sp1 - 1);
        h->is_head_method = h->method_len == 4 && memcmp(h->method, "HEAD", 4) == 0;

        if (h->method_len == 7 && memcmp(h->method, "CONNECT", 7) == 0)
                return fail(h, ret_error, HTTP_ERROR_METHOD, "CONNECT is not supported");
        if (h->target[0] != '/' && !(h->target_len == 1 && h->target[0] == '*') &&
            !(h->target_len > 7 && strncasecmp(h->target, "http://", 7) == 0))
                return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST, "invalid request target");

        return parse_fields(buf, len, fields, true, h, ret_error);
}

int http_response_parse(const char *buf, size_t len, bool request_was_head, HttpHead *h,
                        HttpError *ret_error) {
        size_t line_len, fields;
        int r;

        r = parse_start_line(buf, len, false, h, ret_error, &line_len, &fields);
        if (r < 0)
                return r;
        /* "HTTP/1.x SP 3DIGIT SP reason" — the reason may be empty, the SP before it is optional
         * in practice */
        if (line_len < 12 || buf[8] != ' ' || (line_len > 12 && buf[12] != ' '))
                return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST, "malformed status line");
        r = parse_version(buf, 8, &h->version_minor);
        if (r < 0)
                return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST, "unsupported HTTP version");
        for (int k = 9; k < 12; k++)
                if (buf[k] < '0' || buf[k] > '9')
                        return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST, "malformed status code");
        h->status = (unsigned) ((buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0'));
        if (h->status < 100)
                return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST, "malformed status code");
        for (size_t k = 12; k < line_len; k++)
                if (!is_field_char((unsigned char) buf[k]))
                        return fail(h, ret_error, HTTP_ERROR_BAD_REQUEST, "control character in reason");

        r = parse_fields(buf, len, fields, false, h, ret_error);
        if (r < 0)
                return r;

        if (request_was_head || h->status < 200 || h->status == 204 || h->status == 304)
                h->body = HTTP_BODY_NONE;
        else if (h->body == HTTP_BODY_NONE && !h->has_length)
                h->body = HTTP_BODY_EOF;
        return 0;
}
