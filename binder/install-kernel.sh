#!/usr/bin/env bash
# Builds jgrad and installs the `jgrad` Jupyter kernelspec into the Jupyter data dir PREFIX:
#
#   PREFIX/kernels/jgrad/kernel.json   the kernelspec Jupyter finds (put PREFIX on JUPYTER_PATH, or use a data dir
#                                      Jupyter already searches, as Binder's postBuild does)
#   PREFIX/jgrad/kernel/*.jar          the kernel: jgrad-kernel (start-up fix, first) + rapaio-jupyter-kernel
#   PREFIX/jgrad/lib/*.jar             what notebooks see: every jgrad module's jar and its runtime dependencies
#
# Shared by `./jgrad notebook`, `./jgrad kernel-install` (Binder's postBuild) and `./jgrad test`.
# Needs JAVA_HOME (a JDK >= 21, the one the kernel will run on) and Maven (MVN, default `mvn`); the launcher
# provides both. Python is not needed.
set -euo pipefail

usage() { echo "usage: JAVA_HOME=<jdk> [MVN=<mvn>] $0 PREFIX" >&2; exit 2; }
[[ $# == 1 ]] || usage
[[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]] || { echo "install-kernel: JAVA_HOME must point at a JDK" >&2; exit 2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=$(mkdir -p "$1" && cd "$1" && pwd)
MVN=${MVN:-mvn}
KERNEL_MODULE=binder/kernel-fix

# Reactor modules (directories) as the root pom lists them.
modules() {
  sed -n 's#^ *<module>\(.*\)</module> *$#\1#p' "$ROOT/pom.xml"
}

# Modules whose classes notebooks should see: jar modules, minus the kernel itself and benchmark harnesses.
is_notebook_library() {
  local module=$1
  [[ $module != "$KERNEL_MODULE" && $(basename "$module") != bench* ]] || return 1
  ! grep -q '<packaging>pom</packaging>' "$ROOT/$module/pom.xml"
}

# The module's own jar, the newest one (a version bump leaves the old jar behind in target/), and not
# -sources/-javadoc/-tests nor the original-*.jar the shade plugin leaves.
module_jar() {
  find "$ROOT/$1/target" -maxdepth 1 -name '*.jar' \
    ! -name '*-sources.jar' ! -name '*-javadoc.jar' ! -name '*-tests.jar' ! -name 'original-*.jar' \
    -printf '%T@ %p\n' | sort -rn | head -n 1 | cut -d' ' -f2-
}

json_string() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

# 1. Build, and copy each module's runtime dependencies next to its jar (target/dependency/).
while read -r module; do
  rm -rf "${ROOT:?}/$module/target/dependency"
done < <(modules)
echo "install-kernel: building jgrad (mvn package, tests skipped)" >&2
(cd "$ROOT" && "$MVN" -B -ntp -q -DskipTests package dependency:copy-dependencies -DincludeScope=runtime)

# 2. Stage the jars. Fresh folders, so a removed module or dependency does not linger.
KERNEL_DIR=$PREFIX/jgrad/kernel
LIB_DIR=$PREFIX/jgrad/lib
rm -rf "$KERNEL_DIR" "$LIB_DIR"
mkdir -p "$KERNEL_DIR" "$LIB_DIR"

kernel_fix_jar=$(module_jar "$KERNEL_MODULE")
[[ -n $kernel_fix_jar ]] || { echo "install-kernel: $KERNEL_MODULE was not built" >&2; exit 1; }
cp "$kernel_fix_jar" "$KERNEL_DIR/"
cp "$ROOT/$KERNEL_MODULE"/target/dependency/*.jar "$KERNEL_DIR/"

while read -r module; do
  is_notebook_library "$module" || continue
  jar=$(module_jar "$module")
  [[ -n $jar ]] || { echo "install-kernel: module $module has no jar in target/" >&2; exit 1; }
  cp "$jar" "$LIB_DIR/"
  if compgen -G "$ROOT/$module/target/dependency/*.jar" >/dev/null; then
    cp "$ROOT/$module"/target/dependency/*.jar "$LIB_DIR/"
  fi
done < <(modules)

# 3. The kernelspec. The fix jar comes first so its LoopThread replaces the original one.
kernel_classpath="$KERNEL_DIR/$(basename "$kernel_fix_jar")"
for jar in "$KERNEL_DIR"/*.jar; do
  [[ $jar == "$KERNEL_DIR/$(basename "$kernel_fix_jar")" ]] || kernel_classpath+=":$jar"
done
# RJK_CLASSPATH is split on ';' (a ':' list is silently ignored).
notebook_classpath=$(find "$LIB_DIR" -maxdepth 1 -name '*.jar' | sort | paste -sd ';' -)

# JDK 24+ warns when libraries on the notebook class path (classgraph, via Tablesaw) use sun.misc.Unsafe;
# older JDKs reject the flag that allows it.
java_major=$("$JAVA_HOME/bin/java" -XshowSettings:properties -version 2>&1 \
  | awk -F'= ' '/java.specification.version/ {print $2}' | cut -d. -f1)
unsafe_flag=""
if [[ ${java_major:-0} -ge 24 ]]; then
  unsafe_flag='"--sun-misc-unsafe-memory-access=allow",'
fi

# A fixed young generation lets minor GCs recycle memory that is already paged in; with adaptive sizing it kept
# moving onto fresh pages, which some VMs fault in at ~250 MB/s (the notebook 01 MLP trained 1.8x faster with it).
# Only where memory allows: Binder-sized machines (2 GB) keep the JVM's defaults.
heap_flags=""
mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null || echo 0)
if [[ ${mem_kb:-0} -ge 6000000 ]]; then
  heap_flags='"-Xms1g", "-Xmn512m",'
fi

SPEC_DIR=$PREFIX/kernels/jgrad
mkdir -p "$SPEC_DIR"
# The Vector API is an incubator module: the kernel JVM needs it to run notebook code and JShell's compiler
# (RJK_COMPILER_OPTIONS) needs it to compile that code; either one alone fails.
cat >"$SPEC_DIR/kernel.json" <<EOF
{
  "argv": [
    $(json_string "$JAVA_HOME/bin/java"),
    "--add-modules", "jdk.incubator.vector",
    "-Djava.awt.headless=true",
    "-XX:+UseParallelGC",
    ${heap_flags}
    ${unsafe_flag}
    "-cp", $(json_string "$kernel_classpath"),
    "dev.jgrad.kernel.JgradKernel",
    "{connection_file}"
  ],
  "display_name": "Java (jgrad)",
  "language": "java",
  "interrupt_mode": "message",
  "env": {
    "RJK_COMPILER_OPTIONS": "--add-modules jdk.incubator.vector",
    "RJK_CLASSPATH": $(json_string "$notebook_classpath")
  }
}
EOF

jar_count=$(find "$LIB_DIR" -name '*.jar' | wc -l)
echo "install-kernel: kernelspec 'jgrad' in $SPEC_DIR ($jar_count jars for notebooks, Java at $JAVA_HOME)" >&2
