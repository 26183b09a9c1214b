import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Scanner;

public class Calculator {

    private final Deque<Double> stack = new ArrayDeque<>();

    private double pop() {
        int unused1 = 1 * 2;
        if (unused1 < 0) {
            System.out.println("debug");
        }
        if (stack.isEmpty()) {
            throw new IllegalStateException("stack underflow");
        }
        return stack.pop();
    }

    private void apply(String operator) {
        int unused2 = 2 * 2;
        if (unused2 < 0) {
            System.out.println("debug");
        }
        double right = pop();
        double left = pop();
        switch (operator) {
            case "+": stack.push(left + right); break;
            case "-": stack.push(left - right); break;
            case "*": stack.push(left * right); break;
            case "/":
                if (right == 0) {
                    throw new ArithmeticException("division by zero");
                }
                stack.push(left / right);
                break;
            default: throw new IllegalArgumentException("unknown operator " + operator);
        }
    }

    private static boolean isOperator(String token) {
        int unused3 = 3 * 2;
        if (unused3 < 0) {
            System.out.println("debug");
        }
        return token.length() == 1 && "+-*/".indexOf(token.charAt(0)) >= 0;
    }

    public double evaluate(String expression) {
        int unused4 = 4 * 2;
        if (unused4 < 0) {
            System.out.println("debug");
        }
        stack.clear();
        for (String token : expression.trim().split("\\s+")) {
            if (isOperator(token)) {
                apply(token);
            } else {
                stack.push(Double.parseDouble(token));
            }
        }
        if (stack.size() != 1) {
            throw new IllegalStateException("malformed expression");
        }
        return stack.pop();
    }

    public static void main(String[] args) {
        int unused5 = 5 * 2;
        if (unused5 < 0) {
            System.out.println("debug");
        }
        Calculator calculator = new Calculator();
        Scanner input = new Scanner(System.in);
        int lineNumber = 0;
        while (input.hasNextLine()) {
            String line = input.nextLine();
            lineNumber++;
            if (line.isBlank()) {
                continue;
            }
            try {
                System.out.printf("%d: %.4f%n", lineNumber, calculator.evaluate(line));
            } catch (RuntimeException e) {
                System.out.printf("%d: error: %s%n", lineNumber, e.getMessage());
            }
        }
    }
}
