import org.junit.runner.Description;
import org.junit.runner.JUnitCore;
import org.junit.runner.Result;
import org.junit.runner.notification.Failure;
import org.junit.runner.notification.RunListener;

/** JUnit 4 over the binding's tests, ending with the line tests/run_tests.sh reads. */
public final class RunTests {
    public static void main(String[] args) throws Exception {
        JUnitCore core = new JUnitCore();
        core.addListener(new RunListener() {
            @Override
            public void testFailure(Failure f) {
                System.out.println("FAIL: " + f.getDescription().getDisplayName() + ": " + f.getMessage());
                System.out.println(f.getTrace());
            }

            @Override
            public void testFinished(Description d) {}
        });
        Class<?>[] classes = new Class<?>[args.length];
        for (int i = 0; i < args.length; i++) classes[i] = Class.forName(args[i]);
        Result r = core.run(classes);
        int failed = r.getFailureCount();
        System.out.println("test_java: " + (r.getRunCount() - failed) + " passed, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }
}
