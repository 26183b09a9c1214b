#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct stats {
    long sum;
    int count;
    int min, max;
    int histogram[201];
};

void add_value(struct stats *st, int v)
{
    if (st->count == 0 || v < st->min) st->min = v;
    if (st->count == 0 || v > st->max) st->max = v;
    st->sum += v;
    st->count += 1;
    if (v >= -100 && v <= 100) st->histogram[v + 100]++;
}

int histogram_mode(const struct stats *st)
{
    int at = 0;
    for (int i = 1; i < 201; i++) if (st->histogram[i] > st->histogram[at]) at = i;
    return at - 100;
}

double histogram_median(const struct stats *st)
{
    int seen = 0, lower = -1;
    for (int i = 0; i < 201; i++) {
        seen += st->histogram[i];
        if (lower < 0 && seen * 2 >= st->count) lower = i - 100;
        if (seen * 2 > st->count) return st->count % 2 ? i - 100 : (lower + i - 100) / 2.0;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct stats st;
    char line[256];
    memset(&st, 0, sizeof st);
    while (fgets(line, sizeof line, stdin)) {
        char *end, *p = line;
        for (long v = strtol(p, &end, 10); p != end; v = strtol(p, &end, 10)) {
            add_value(&st, (int)v);
            p = end;
        }
    }
    if (st.count == 0) {
        fprintf(stderr, "%s: nothing read\n", argv[0]);
        return 1;
    }
    printf("%d values, mean %.2f, median %.2f, mode %d, from %d to %d\n", st.count, (double)st.sum / st.count,
           histogram_median(&st), histogram_mode(&st), st.min, st.max);
    return 0;
}
