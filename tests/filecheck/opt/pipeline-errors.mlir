// Bad pipelines and options are one-line errors with exit status 1, never a traceback.

// RUN: not sparsec opt %s -p nosuchpass 2>&1 | filecheck %s --check-prefix=UNKNOWN
// UNKNOWN: error: unknown pass 'nosuchpass' (known passes: {{.*}}canonicalize, combine-parallel-linears, cse, dce
// UNKNOWN-NOT: Traceback

// RUN: not sparsec opt %s -p "canonicalize{bogus=1}" 2>&1 | filecheck %s --check-prefix=OPTION
// OPTION: error: pass 'canonicalize' has no option 'bogus' (valid options: max-iterations, fold-limit)

// RUN: not sparsec opt %s -p "cse,canonicalize{max-iterations=many}" 2>&1 \
// RUN:   | filecheck %s --check-prefix=VALUE
// VALUE: error: bad value 'many' for option 'max-iterations' of pass 'canonicalize': expected an integer

// RUN: not sparsec opt %s -p "canonicalize{max-iterations=2,cse" 2>&1 | filecheck %s --check-prefix=OPEN
// OPEN: error: unbalanced '{' in pass pipeline 'canonicalize{max-iterations=2,cse': missing '}'

// RUN: not sparsec opt %s -p "cse}" 2>&1 | filecheck %s --check-prefix=CLOSE
// CLOSE: error: unbalanced '}' at column 4 of pass pipeline 'cse}'

// RUN: not sparsec opt %s -p "canonicalize{max-iterations=0}" 2>&1 | filecheck %s --check-prefix=FAIL
// FAIL: error: pass 'canonicalize': max-iterations must be at least 1, got 0

// RUN: not sparsec opt %s --print-ir-after nosuchpass 2>&1 | filecheck %s --check-prefix=DUMP
// DUMP: error: --print-ir-after: unknown pass 'nosuchpass' (known passes: {{.*}}cse

// RUN: not sparsec opt %S/no-such-file.mlir 2>&1 | filecheck %s --check-prefix=MISSING
// MISSING: error: cannot read '{{.*}}no-such-file.mlir': no such file

// The same pipeline is fine with MLIR's explicit anchor and spaces.
// RUN: sparsec opt %s -p " builtin.module( canonicalize{max-iterations=2} , cse ) " | filecheck %s
// CHECK: sym_name = "f"

"func.func"() <{function_type = (tensor<4xf32>) -> tensor<4xf32>, sym_name = "f"}> ({
^bb0(%arg0: tensor<4xf32>):
  "func.return"(%arg0) : (tensor<4xf32>) -> ()
}) : () -> ()
