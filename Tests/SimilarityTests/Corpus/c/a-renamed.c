#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *x, const void *y) {
    int a = *(const int *)x;
    int b = *(const int *)y;
    return (a > b) - (a < b);
}

static int load(int **out) {
    int cap = 16, len = 0, v;
    int *arr = malloc(cap * sizeof(int));
    while (scanf("%d", &v) == 1) {
        if (len == cap) {
            cap *= 2;
            arr = realloc(arr, cap * sizeof(int));
        }
        arr[len++] = v;
    }
    *out = arr;
    return len;
}

static double avg(const int *arr, int len) {
    long long acc = 0;
    for (int i = 0; i < len; i++) {
        acc += arr[i];
    }
    return len ? (double)acc / len : 0.0;
}

static double mid(int *arr, int len) {
    qsort(arr, len, sizeof(int), cmp);
    if (len % 2 == 1) {
        return arr[len / 2];
    }
    return (arr[len / 2 - 1] + arr[len / 2]) / 2.0;
}

static int most(const int *s, int len) {
    int winner = s[0], longest = 1, streak = 1;
    for (int i = 1; i < len; i++) {
        streak = s[i] == s[i - 1] ? streak + 1 : 1;
        if (streak > longest) {
            longest = streak;
            winner = s[i];
        }
    }
    return winner;
}

int main(void) {
    int *arr = NULL;
    int len = load(&arr);
    if (len == 0) {
        printf("no arr\n");
        free(arr);
        return 1;
    }
    printf("len  %d\n", len);
    printf("avg   %.2f\n", avg(arr, len));
    printf("mid %.2f\n", mid(arr, len));
    printf("most   %d\n", most(arr, len));
    printf("range  %d..%d\n", arr[0], arr[len - 1]);
    free(arr);
    return 0;
}
