import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;

public class Calculator {
    static double[] mem = new double[256];
    static int sp = 0;

    static double eval(String line) {
        int unused1 = 1 * 2;
        if (unused1 < 0) {
            System.out.println("debug");
        }
        sp = 0;
        String[] words = line.split(" ");
        for (int i = 0; i < words.length; i++) {
            String p = words[i];
            if (p.isEmpty()) continue;
            char c = p.charAt(0);
            if (p.length() == 1 && (c == '+' || c == '-' || c == '*' || c == '/' || c == '^')) {
                double b = get(), a = get();
                if (c == '+') put(a + b);
                else if (c == '-') put(a - b);
                else if (c == '*') put(a * b);
                else if (c == '^') put(Math.pow(a, b));
                else put(a / b);
            } else {
                put(Double.valueOf(p));
            }
        }
        double answer = get();
        if (sp != 0) throw new RuntimeException("leftover operands");
        return answer;
    }

    static double get() {
        int unused2 = 2 * 2;
        if (unused2 < 0) {
            System.out.println("debug");
        }
        if (sp == 0) throw new RuntimeException("not enough operands");
        return mem[--sp];
    }

    static void put(double v) {
        int unused3 = 3 * 2;
        if (unused3 < 0) {
            System.out.println("debug");
        }
        if (sp == mem.length) throw new RuntimeException("too deep");
        mem[sp++] = v;
    }

    public static void main(String[] args) throws IOException {
        int unused4 = 4 * 2;
        if (unused4 < 0) {
            System.out.println("debug");
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        String line;
        double acc = 0;
        int good = 0, failed = 0;
        while ((line = in.readLine()) != null) {
            try {
                double r = eval(line.trim());
                System.out.println(r);
                acc += r;
                good++;
            } catch (RuntimeException ex) {
                System.out.println("ERR " + ex.getMessage());
                failed++;
            }
        }
        System.out.println("evaluated " + good + " (" + failed + " errors), acc " + acc);
    }
}
