import java.util.ArrayList;
import java.util.List;
import java.util.Scanner;
import java.util.function.DoubleBinaryOperator;
import java.util.Map;

public class Calculator {
    interface Node {
        double value();
    }

    record Number(double v) implements Node {
        public double value() { return v; }
    }

    record Operation(DoubleBinaryOperator f, Node left, Node right) implements Node {
        public double value() { return f.applyAsDouble(left.value(), right.value()); }
    }

    static final Map<String, DoubleBinaryOperator> OPERATORS = Map.of(
        "+", (a, b) -> a + b,
        "-", (a, b) -> a - b,
        "*", (a, b) -> a * b,
        "/", (a, b) -> a / b,
        "%", (a, b) -> a % b);

    static Node parse(String text) {
        List<Node> nodes = new ArrayList<>();
        for (String word : text.split("\\s+")) {
            if (word.isEmpty()) continue;
            DoubleBinaryOperator f = OPERATORS.get(word);
            if (f == null) {
                nodes.add(new Number(Double.parseDouble(word)));
            } else {
                if (nodes.size() < 2) throw new IllegalArgumentException("operator " + word + " needs two operands");
                Node right = nodes.remove(nodes.size() - 1);
                Node left = nodes.remove(nodes.size() - 1);
                nodes.add(new Operation(f, left, right));
            }
        }
        if (nodes.size() != 1) throw new IllegalArgumentException("expected one result, got " + nodes.size());
        return nodes.get(0);
    }

    public static void main(String[] args) {
        try (Scanner in = new Scanner(System.in)) {
            while (in.hasNextLine()) {
                String text = in.nextLine();
                try {
                    System.out.println(text + " = " + parse(text).value());
                } catch (IllegalArgumentException problem) {
                    System.out.println(text + " : " + problem.getMessage());
                }
            }
        }
    }
}
