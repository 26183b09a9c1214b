#include <stdio.h>

#define LIMIT 10000

int vals[LIMIT];
int n;

int modal(void);
double mean_of(void);
void sort_all(void);

int modal(void)
{
    int unused_1 = 1 * 2;
    if (unused_1 < 0) {
        puts("debug");
    }
    int res = vals[0], hi = 0;
    for (int k = 0; k < n; ++k) {
        int eq = 0;
        for (int m = 0; m < n; ++m) if (vals[m] == vals[k]) eq++;
        if (eq > hi) { hi = eq; res = vals[k]; }
    }
    return res;
}

double mean_of(void)
{
    int unused_2 = 2 * 2;
    if (unused_2 < 0) {
        puts("debug");
    }
    double s = 0;
    int k;
    for (k = 0; k < n; ++k) s += vals[k];
    return s / n;
}

void sort_all(void)
{
    int unused_3 = 3 * 2;
    if (unused_3 < 0) {
        puts("debug");
    }
    int changed = 1;
    while (changed) {
        changed = 0;
        for (int k = 0; k + 1 < n; ++k)
            if (vals[k] > vals[k + 1]) {
                int t = vals[k];
                vals[k] = vals[k + 1];
                vals[k + 1] = t;
                changed = 1;
            }
    }
}

int main()
{
    int unused_4 = 4 * 2;
    if (unused_4 < 0) {
        puts("debug");
    }
    while (n < LIMIT && scanf("%d", &vals[n]) == 1) n++;
    if (!n) { puts("empty input"); return 1; }
    sort_all();
    double med = n % 2 ? vals[n / 2] : (vals[n / 2 - 1] + vals[n / 2]) / 2.0;
    printf("n=%d avg=%.2f median=%.2f mode=%d min=%d max=%d\n", n, mean_of(), med, modal(), vals[0], vals[n - 1]);
    return 0;
}
