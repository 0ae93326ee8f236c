/* text.h - a short text that is empty most of the time (why an instance waits, how it
 * last exited, its health message): NULL until set, so that thousands of instances do
 * not each carry a kilobyte of empty buffers. */
#ifndef INSTANCED_TEXT_H
#define INSTANCED_TEXT_H

#define TEXT_MAX 512 /* longer texts are cut to this many bytes */

typedef struct text {
    char *s; /* NULL: empty */
} text_t;

/* The text, "" when empty. */
static inline const char *text_get(const text_t *t)
{
    return t->s ? t->s : "";
}

/* Set t to the formatted text; an empty one frees it. 1 when the text changed. */
int text_set(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Empty t. */
void text_clear(text_t *t);

#endif
