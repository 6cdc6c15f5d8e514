// --verify-diagnostics: the errors must be those the expected-error comments announce, at
// the lines they point at; each unexpected or missing one is reported with its place.
// RUN: not sparsec opt %s --split-input-file --verify-diagnostics 2>&1 >/dev/null | filecheck %s
// RUN: not sparsec opt %s --split-input-file --verify-diagnostics 2>&1 >/dev/null | wc -l \
// RUN:   | filecheck %s --check-prefix=COUNT
// RUN: not sparsec opt %s --split-input-file 2>&1 >/dev/null | filecheck %s --check-prefix=PLAIN
// RUN: head -n 40 %s | sparsec opt - --split-input-file --verify-diagnostics | filecheck %s --check-prefix=GOOD

// Same line, @below, @above, @-N; a case without errors is printed.
"func.func"() <{function_type = (tensor<2xf32>) -> tensor<2xf32>, sym_name = "same_line"}> ({
^bb0(%arg0: tensor<2xf32>):
  %0 = "sparsec.add"(%arg0) : (tensor<2xf32>) -> tensor<2xf32> // expected-error {{expects 2 operands, got 1}}
  "func.return"(%0) : (tensor<2xf32>) -> ()
}) : () -> ()
// -----
"func.func"() <{function_type = (tensor<2xf32>) -> tensor<2xf32>, sym_name = "below"}> ({
^bb0(%arg0: tensor<2xf32>):
  // expected-error@below {{requires property 'axis'}}
  %0 = "sparsec.softmax"(%arg0) : (tensor<2xf32>) -> tensor<2xf32>
  "func.return"(%0) : (tensor<2xf32>) -> ()
}) : () -> ()
// -----
"func.func"() <{function_type = (tensor<2xf32>) -> tensor<3xf32>, sym_name = "above"}> ({
^bb0(%arg0: tensor<2xf32>):
  %0 = "sparsec.relu"(%arg0) : (tensor<2xf32>) -> tensor<3xf32>
  // expected-error@above {{differ from the inferred}}
  "func.return"(%0) : (tensor<3xf32>) -> ()
}) : () -> ()
// -----
"func.func"() <{function_type = (tensor<2xf32>) -> tensor<2xf32>, sym_name = "minus"}> ({
^bb0(%arg0: tensor<2xf32>):
  %0 = "sparsec.neg"(%arg0, %arg0) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  "func.return"(%0) : (tensor<2xf32>) -> () // expected-error@-1 {{expects 1 operands, got 2}}
}) : () -> ()
// -----
"func.func"() <{function_type = (tensor<2xf32>) -> tensor<2xf32>, sym_name = "valid"}> ({
^bb0(%arg0: tensor<2xf32>):
  "func.return"(%arg0) : (tensor<2xf32>) -> ()
}) : () -> ()
// GOOD: sym_name = "valid"

// -----
// An error nobody expected, and an expected one on the wrong line:
"func.func"() <{function_type = (tensor<2xf32>) -> tensor<2xf32>, sym_name = "unexpected"}> ({
^bb0(%arg0: tensor<2xf32>):
  // expected-error@+2 {{expects 2 operands}}
  %0 = "sparsec.add"(%arg0) : (tensor<2xf32>) -> tensor<2xf32>
  "func.return"(%0) : (tensor<2xf32>) -> ()
}) : () -> ()
// CHECK: error: {{.*}}verify-diagnostics.mlir:47:3: unexpected error: 'sparsec.add' op expects 2 operands, got 1
// CHECK-NEXT: error: {{.*}}verify-diagnostics.mlir:48: expected error "expects 2 operands" was not produced

// -----
// Expected errors that do not come (sparsec emits no warnings):
"func.func"() <{function_type = (tensor<2xf32>) -> tensor<2xf32>, sym_name = "missing"}> ({
^bb0(%arg0: tensor<2xf32>):
  // expected-error@above {{never}}
  "func.return"(%arg0) : (tensor<2xf32>) -> () // expected-warning {{nor this}}
}) : () -> ()
// CHECK-NEXT: error: {{.*}}verify-diagnostics.mlir:56: expected error "never" was not produced
// CHECK-NEXT: error: {{.*}}verify-diagnostics.mlir:58: expected warning "nor this" was not produced
// CHECK-NOT: error

// The four cases above are all that failed.
// COUNT: {{^ *4$}}

// Without the flag, the errors are errors.
// PLAIN: error: {{.*}}verify-diagnostics.mlir:12:3: 'sparsec.add' op expects 2 operands, got 1
