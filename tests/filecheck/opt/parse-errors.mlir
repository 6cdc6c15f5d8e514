// Parse errors point at the line and column of the original file, split or not.
// RUN: not sparsec opt %s --split-input-file 2>&1 >/dev/null | filecheck %s
// RUN: not sparsec opt %s --split-input-file 2>/dev/null | filecheck %s --check-prefix=GOOD
// RUN: not sparsec opt - --split-input-file < %s 2>&1 >/dev/null | filecheck %s --check-prefix=STDIN

// Every failing case is reported, with its source line and a caret.
// CHECK: parse-errors.mlir:27:22: use of undefined value '%arg1'
// CHECK-NEXT: {{^}}  %0 = "sparsec.neg"(%arg1) : (tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT: {{^                     \^$}}
// CHECK: parse-errors.mlir:35:3: 'sparsec.neg' op result types (tensor<3xf32>) differ from the inferred (tensor<4xf32>)
// CHECK-NOT: Traceback

// The cases that parse are still printed.
// GOOD: sym_name = "good"
// GOOD-NOT: sym_name

// STDIN: <stdin>:27:22: use of undefined value '%arg1'

"func.func"() <{function_type = (tensor<4xf32>) -> tensor<4xf32>, sym_name = "good"}> ({
^bb0(%arg0: tensor<4xf32>):
  "func.return"(%arg0) : (tensor<4xf32>) -> ()
}) : () -> ()

// -----
"func.func"() <{function_type = (tensor<4xf32>) -> tensor<4xf32>, sym_name = "undefined"}> ({
^bb0(%arg0: tensor<4xf32>):
  %0 = "sparsec.neg"(%arg1) : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%0) : (tensor<4xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<4xf32>) -> tensor<3xf32>, sym_name = "wrong_type"}> ({
^bb0(%arg0: tensor<4xf32>):
  %0 = "sparsec.neg"(%arg0) : (tensor<4xf32>) -> tensor<3xf32>
  "func.return"(%0) : (tensor<3xf32>) -> ()
}) : () -> ()
