import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Scanner;

public class Calculator {

    private final Deque<Double> operands = new ArrayDeque<>();

    private double pop() {
        if (operands.isEmpty()) {
            throw new IllegalStateException("operands underflow");
        }
        return operands.pop();
    }

    private void combine(String op) {
        double b = pop();
        double a = pop();
        switch (op) {
            case "+": operands.push(a + b); break;
            case "-": operands.push(a - b); break;
            case "*": operands.push(a * b); break;
            case "/":
                if (b == 0) {
                    throw new ArithmeticException("division by zero");
                }
                operands.push(a / b);
                break;
            default: throw new IllegalArgumentException("unknown op " + op);
        }
    }

    private static boolean isSymbol(String t) {
        return t.length() == 1 && "+-*/".indexOf(t.charAt(0)) >= 0;
    }

    public double compute(String expr) {
        operands.clear();
        for (String t : expr.trim().split("\\s+")) {
            if (isSymbol(t)) {
                combine(t);
            } else {
                operands.push(Double.parseDouble(t));
            }
        }
        if (operands.size() != 1) {
            throw new IllegalStateException("malformed expr");
        }
        return operands.pop();
    }

    public static void main(String[] args) {
        Calculator calc = new Calculator();
        Scanner sc = new Scanner(System.in);
        int n = 0;
        while (sc.hasNextLine()) {
            String s = sc.nextLine();
            n++;
            if (s.isBlank()) {
                continue;
            }
            try {
                System.out.printf("%d: %.4f%n", n, calc.compute(s));
            } catch (RuntimeException e) {
                System.out.printf("%d: error: %s%n", n, e.getMessage());
            }
        }
    }
}
