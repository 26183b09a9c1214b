#include <stdio.h>

#define MAX 10000

int data[MAX];
int n;

void bubble(void)
{
    int swapped = 1;
    while (swapped) {
        swapped = 0;
        for (int k = 0; k + 1 < n; ++k)
            if (data[k] > data[k + 1]) {
                int t = data[k];
                data[k] = data[k + 1];
                data[k + 1] = t;
                swapped = 1;
            }
    }
}

double average(void)
{
    double s = 0;
    int k;
    for (k = 0; k < n; ++k) s += data[k];
    return s / n;
}

int most_frequent(void)
{
    int answer = data[0], top = 0;
    for (int k = 0; k < n; ++k) {
        int same = 0;
        for (int m = 0; m < n; ++m) if (data[m] == data[k]) same++;
        if (same > top) { top = same; answer = data[k]; }
    }
    return answer;
}

int main()
{
    while (n < MAX && scanf("%d", &data[n]) == 1) n++;
    if (!n) { puts("empty input"); return 1; }
    bubble();
    double middle = n % 2 ? data[n / 2] : (data[n / 2 - 1] + data[n / 2]) / 2.0;
    printf("n=%d avg=%.2f median=%.2f mode=%d min=%d max=%d\n", n, average(), middle, most_frequent(), data[0], data[n - 1]);
    return 0;
}
