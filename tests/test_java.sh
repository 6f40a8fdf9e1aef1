#!/bin/sh
# The Java binding (make java): JUnit 4 over bindings/java/test against the
# golden pe-micro CLIP and the CLI's own outputs for the same inputs (written
# here first), the CLI reading back what Java saved, and a Kotlin caller.
# Under the sanitizers (make test-asan) the JVM loads ASan's runtime first.
. "$(dirname "$0")/cli_lib.sh"
M="$G/models/pe-micro.safetensors"
V="$G/bpe_simple_vocab_16e6.txt.gz"
JAR=build/java/pecore.jar
SO=${PECORE_JNI:-$BUILD/java/libpecore_jni.so}
CP="$JAR:build/java/tests.jar:/usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar"
LABELS="cat,dog,astronaut,coffee"
if ! command -v java >/dev/null 2>&1 || [ ! -f "$SO" ] || [ ! -f build/java/tests.jar ]; then
    echo "FAIL: java, $SO or build/java/tests.jar missing (make java build/java/tests.jar)"
    finish test_java; exit 1
fi

# The JVM under ASan: its runtime preloaded, the JVM's own SIGSEGV use left
# alone, leaks not counted (the JVM never frees at exit).
JVM_ENV=""
if nm -D "$SO" 2>/dev/null | grep -q __asan_init; then
    JVM_ENV="LD_PRELOAD=$(${CC:-cc} -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0:handle_segv=0:allow_user_segv_handler=1"
fi
jvm() { env $JVM_ENV java -Xcheck:jni -Dpecore.library="$PWD/$SO" -Dpecore.golden="$G" -Dpecore.tmp="$T" "$@"; }

# ---- what the CLI says for the same inputs
cp bindings/java/test/texts.txt "$T/texts.txt"
"$PE" embed -m "$M" --size 64 --threads 1 -o "$T/cli_chelsea.npy" "$G/images/chelsea.png"; ok $? "CLI embed"
while IFS= read -r t; do "$PE" tokenize --vocab "$V" "$t"; done <"$T/texts.txt" >"$T/cli_ids.txt"; ok $? "CLI tokenize"
set --; while IFS= read -r t; do set -- "$@" "$t"; done <"$T/texts.txt"
"$PE" text -m "$M" --vocab "$V" -o "$T/cli_text.npy" "$@" >/dev/null; ok $? "CLI text"
"$PE" classify -m "$M" --vocab "$V" --labels "$LABELS" --json "$G/images/chelsea.png" >"$T/cli_zeroshot.json"; ok $? "CLI zero-shot"
# A camera frame: chelsea at an odd size as raw I420, which FrameTest hands
# over as YUV_420_888.
FW=321; FH=181
ffmpeg -nostdin -loglevel error -y -i "$G/images/chelsea.png" -vf scale=$FW:$FH -f rawvideo -pix_fmt yuv420p "$T/frame.yuv"; ok $? "ffmpeg frame"
fr() { "$PE" embed -m "$M" --size 64 --threads 1 --frames "$T/frame.yuv" --pix-fmt i420 --video-size ${FW}x$FH "$@"; }
fr -o "$T/cli_frame.npy"; ok $? "CLI embed --frames"
fr --rotate 90 --mirror -o "$T/cli_frame_rot90_mirror.npy"; ok $? "CLI embed --frames --rotate 90 --mirror"

# ---- JUnit
jvm -cp "$CP" -Dpecore.labels="$LABELS" -Dpecore.frame.size=${FW}x$FH RunTests \
    GoldenTest ErrorTest ThreadTest FrameTest >"$T/junit.log" 2>&1; rc=$?
grep -E '^(FAIL|test_java)' "$T/junit.log" | grep -v ': [0-9]* passed, 0 failed$' || true
line=$(grep -E '^test_java: [0-9]+ passed, [0-9]+ failed$' "$T/junit.log")
if [ -n "$line" ]; then
    pass=$((pass + $(echo "$line" | sed -E 's/.* ([0-9]+) passed.*/\1/')))
    fail=$((fail + $(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')))
fi
[ -n "$line" ] && [ "$rc" -eq 0 ]; ok $? "JUnit ran to the end (exit $rc)"
[ -n "$line" ] || tail -n 30 "$T/junit.log"

# ---- the CLI reads what Java wrote
"$PE" gallery list -g "$T/java.gal" >"$T/list" 2>&1; ok $? "CLI lists the Java gallery"
grep -q "animal/cat" "$T/list" && grep -q "noise/b" "$T/list" && ! grep -q "café" "$T/list"; ok $? "gallery entries as Java left them"
"$PE" classify -m "$M" --prototypes "$T/java.pack" "$G/images/chelsea.png" >"$T/cls" 2>&1; ok $? "CLI classifies with the Java pack"
grep -q "animal/cat" "$T/cls"; ok $? "Java pack's best class"

# ---- a Kotlin caller (Debian's kotlinc 1.3), when installed
if command -v kotlinc >/dev/null 2>&1; then
    KT=/usr/share/java/kotlin-stdlib.jar:/usr/share/java/kotlin-stdlib-jdk7.jar   # use {} on AutoCloseable
    kotlinc bindings/java/test/Smoke.kt -cp "$JAR:$KT" -d "$T/smoke.jar" >"$T/kotlinc.log" 2>&1; ok $? "kotlinc compiles the Kotlin caller"
    [ -f "$T/smoke.jar" ] || cat "$T/kotlinc.log"
    jvm -cp "$JAR:$T/smoke.jar:$KT" SmokeKt "$M" "$G/images/chelsea.png" >"$T/kt" 2>&1
    ok $? "the Kotlin caller runs"
    want=$(sed -E 's/^[^[]*\[\{"label": "([^"]*)".*/\1/' "$T/cli_zeroshot.json")
    grep -q "^kotlin: $want " "$T/kt"; ok $? "the Kotlin caller's zero-shot label is the CLI's ($want): $(head -c 200 "$T/kt")"
else
    echo "test_java: kotlinc not installed, Kotlin caller skipped"
fi
finish test_java
