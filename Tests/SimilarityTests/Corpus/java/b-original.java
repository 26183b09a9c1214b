import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;

public class Calculator {
    static double[] values = new double[256];
    static int top = 0;

    static void push(double v) {
        if (top == values.length) throw new RuntimeException("too deep");
        values[top++] = v;
    }

    static double pop() {
        if (top == 0) throw new RuntimeException("not enough operands");
        return values[--top];
    }

    static double run(String line) {
        top = 0;
        String[] parts = line.split(" ");
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i];
            if (p.isEmpty()) continue;
            char c = p.charAt(0);
            if (p.length() == 1 && (c == '+' || c == '-' || c == '*' || c == '/' || c == '^')) {
                double b = pop(), a = pop();
                if (c == '+') push(a + b);
                else if (c == '-') push(a - b);
                else if (c == '*') push(a * b);
                else if (c == '^') push(Math.pow(a, b));
                else push(a / b);
            } else {
                push(Double.valueOf(p));
            }
        }
        double result = pop();
        if (top != 0) throw new RuntimeException("leftover operands");
        return result;
    }

    public static void main(String[] args) throws IOException {
        BufferedReader reader = new BufferedReader(new InputStreamReader(System.in));
        String line;
        double sum = 0;
        int ok = 0, bad = 0;
        while ((line = reader.readLine()) != null) {
            try {
                double r = run(line.trim());
                System.out.println(r);
                sum += r;
                ok++;
            } catch (RuntimeException ex) {
                System.out.println("ERR " + ex.getMessage());
                bad++;
            }
        }
        System.out.println("evaluated " + ok + " (" + bad + " errors), sum " + sum);
    }
}
