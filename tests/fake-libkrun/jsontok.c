/* A JSON tokenizer with the token model of jsmn, the parser libkrun's C init uses:
 * one token per object, array, string (keys included) and primitive, each with its
 * start/end offsets and its "size" (keys of an object, elements of an array, 1 for a
 * key). The init gives jsmn room for a fixed number of tokens and ignores the whole
 * config file when it needs more; fk_json_tokenize reports that as -ENOMEM.
 *
 * Unlike non-strict jsmn, invalid JSON is always rejected (-EINVAL); krunc writes the
 * file with jansson, so only valid JSON matters here. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <string.h>

#include "fk.h"

struct tk {
    const char *js;
    size_t len, pos;
    struct fk_jtok *toks;
    size_t n, cap, max;
    size_t *stack;
    size_t depth, scap;
};

static int add_token(struct tk *p, enum fk_jtype type, size_t start, size_t end)
{
    if (p->max && p->n >= p->max)
        return -ENOMEM;
    if (p->n == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 64;
        struct fk_jtok *nt = realloc(p->toks, ncap * sizeof(*nt));
        if (!nt)
            return -ENOMEM;
        p->toks = nt;
        p->cap = ncap;
    }
    p->toks[p->n] = (struct fk_jtok){.type = type, .start = start, .end = end, .size = 0};
    p->n++;
    return 0;
}

static int push(struct tk *p, size_t tok)
{
    if (p->depth == p->scap) {
        size_t ncap = p->scap ? p->scap * 2 : 32;
        size_t *ns = realloc(p->stack, ncap * sizeof(*ns));
        if (!ns)
            return -ENOMEM;
        p->stack = ns;
        p->scap = ncap;
    }
    p->stack[p->depth++] = tok;
    return 0;
}

static bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/* p->pos is at the opening quote. */
static int scan_string(struct tk *p, size_t *start, size_t *end)
{
    size_t i = p->pos + 1;
    *start = i;
    while (i < p->len) {
        char c = p->js[i];
        if (c == '"') {
            *end = i;
            p->pos = i + 1;
            return 0;
        }
        if (c == '\\') {
            if (i + 1 >= p->len)
                return -EINVAL;
            char e = p->js[i + 1];
            if (e == 'u') {
                if (i + 5 >= p->len)
                    return -EINVAL;
                for (size_t k = 2; k < 6; k++)
                    if (!is_hex(p->js[i + k]))
                        return -EINVAL;
                i += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == '\0')
                return -EINVAL;
            i += 2;
            continue;
        }
        i++;
    }
    return -EINVAL;
}

static bool valid_primitive(const char *s, size_t n)
{
    if ((n == 4 && memcmp(s, "true", 4) == 0) || (n == 5 && memcmp(s, "false", 5) == 0) ||
        (n == 4 && memcmp(s, "null", 4) == 0))
        return true;
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n)
        return false;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return false;
    }
    if (i < n && s[i] == '.') {
        i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    return i == n;
}

enum state { S_VALUE, S_VALUE_OR_CLOSE, S_KEY, S_KEY_OR_CLOSE, S_COLON, S_COMMA_OR_CLOSE, S_END };

static enum state after_value(const struct tk *p) { return p->depth == 0 ? S_END : S_COMMA_OR_CLOSE; }

/* A value is starting: count it in its parent array. */
static void count_in_parent(struct tk *p)
{
    if (p->depth > 0 && p->toks[p->stack[p->depth - 1]].type == FK_J_ARRAY)
        p->toks[p->stack[p->depth - 1]].size++;
}

static int close_container(struct tk *p, enum fk_jtype type)
{
    if (p->depth == 0 || p->toks[p->stack[p->depth - 1]].type != type)
        return -EINVAL;
    p->toks[p->stack[--p->depth]].end = p->pos + 1;
    p->pos++;
    return 0;
}

static int tokenize(struct tk *p)
{
    enum state st = S_VALUE;
    int r;
    for (;;) {
        while (p->pos < p->len && strchr(" \t\r\n", p->js[p->pos]) && p->js[p->pos] != '\0')
            p->pos++;
        if (p->pos >= p->len)
            break;
        char c = p->js[p->pos];
        switch (st) {
        case S_END:
            return -EINVAL;
        case S_COLON:
            if (c != ':')
                return -EINVAL;
            p->pos++;
            st = S_VALUE;
            continue;
        case S_COMMA_OR_CLOSE: {
            enum fk_jtype top = p->toks[p->stack[p->depth - 1]].type;
            if (c == ',') {
                p->pos++;
                st = top == FK_J_OBJECT ? S_KEY : S_VALUE;
            } else if ((c == '}' && top == FK_J_OBJECT) || (c == ']' && top == FK_J_ARRAY)) {
                if ((r = close_container(p, top)) < 0)
                    return r;
                st = after_value(p);
            } else {
                return -EINVAL;
            }
            continue;
        }
        case S_KEY_OR_CLOSE:
            if (c == '}') {
                if ((r = close_container(p, FK_J_OBJECT)) < 0)
                    return r;
                st = after_value(p);
                continue;
            }
            /* fall through */
        case S_KEY: {
            if (c != '"')
                return -EINVAL;
            size_t s, e;
            if ((r = scan_string(p, &s, &e)) < 0)
                return r;
            if ((r = add_token(p, FK_J_STRING, s, e)) < 0)
                return r;
            p->toks[p->n - 1].size = 1;
            p->toks[p->stack[p->depth - 1]].size++;
            st = S_COLON;
            continue;
        }
        case S_VALUE_OR_CLOSE:
            if (c == ']') {
                if ((r = close_container(p, FK_J_ARRAY)) < 0)
                    return r;
                st = after_value(p);
                continue;
            }
            /* fall through */
        case S_VALUE:
            if (c == '{' || c == '[') {
                count_in_parent(p);
                enum fk_jtype t = c == '{' ? FK_J_OBJECT : FK_J_ARRAY;
                if ((r = add_token(p, t, p->pos, p->pos)) < 0)
                    return r;
                if ((r = push(p, p->n - 1)) < 0)
                    return r;
                p->pos++;
                st = t == FK_J_OBJECT ? S_KEY_OR_CLOSE : S_VALUE_OR_CLOSE;
            } else if (c == '"') {
                count_in_parent(p);
                size_t s, e;
                if ((r = scan_string(p, &s, &e)) < 0)
                    return r;
                if ((r = add_token(p, FK_J_STRING, s, e)) < 0)
                    return r;
                st = after_value(p);
            } else {
                size_t s = p->pos;
                while (p->pos < p->len && !strchr(" \t\r\n,]}:", p->js[p->pos]))
                    p->pos++;
                if (!valid_primitive(p->js + s, p->pos - s))
                    return -EINVAL;
                count_in_parent(p);
                if ((r = add_token(p, FK_J_PRIMITIVE, s, p->pos)) < 0)
                    return r;
                st = after_value(p);
            }
            continue;
        }
    }
    return st == S_END ? 0 : -EINVAL;
}

long fk_json_tokenize(const char *js, size_t len, size_t max, struct fk_jtok **out)
{
    struct tk p = {.js = js, .len = len, .max = max};
    int r = tokenize(&p);
    free(p.stack);
    if (r < 0) {
        free(p.toks);
        *out = NULL;
        return r;
    }
    *out = p.toks;
    return (long)p.n;
}

static unsigned hex4(const char *s)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v = (v << 4) | (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

char *fk_json_token_text(const char *js, const struct fk_jtok *t)
{
    const char *s = js + t->start;
    size_t n = t->end - t->start;
    if (t->type != FK_J_STRING)
        return fk_xstrndup(s, n);
    char *out = fk_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] != '\\') {
            out[o++] = s[i++];
            continue;
        }
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case 'n': out[o++] = '\n'; break;
        case 't': out[o++] = '\t'; break;
        case 'r': out[o++] = '\r'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'u': {
            unsigned cp = hex4(s + i);
            i += 4;
            if ((cp & 0xfc00) == 0xd800) {
                if (i + 6 <= n && s[i] == '\\' && s[i + 1] == 'u' && (hex4(s + i + 2) & 0xfc00) == 0xdc00) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (hex4(s + i + 2) - 0xdc00);
                    i += 6;
                } else {
                    out[o++] = '?';
                    break;
                }
            }
            /* \u0000 ends the C string, as it does in the init. */
            o += put_utf8(out + o, cp);
            break;
        }
        default: out[o++] = e; break;
        }
    }
    out[o] = '\0';
    return out;
}
