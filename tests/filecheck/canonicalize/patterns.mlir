// RUN: sparsec opt %s -p canonicalize --split-input-file | filecheck %s

// A reshape to the shape its input already has is its input.
// CHECK-LABEL: sym_name = "identity_reshape"
// CHECK-NOT: sparsec.reshape
// CHECK: "func.return"(%arg0)
"func.func"() <{function_type = (tensor<2x4xf32>) -> tensor<2x4xf32>, sym_name = "identity_reshape"}> ({
^bb0(%arg0: tensor<2x4xf32>):
  %0 = "sparsec.reshape"(%arg0) <{shape = array<i64: 2, 4>}> : (tensor<2x4xf32>) -> tensor<2x4xf32>
  "func.return"(%0) : (tensor<2x4xf32>) -> ()
}) : () -> ()

// -----

// Reshape of a reshape is one reshape of the original input.
// CHECK-LABEL: sym_name = "compose_reshapes"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: %[[R:.*]] = "sparsec.reshape"(%arg0) <{shape = array<i64: 4, 6>}> : (tensor<2x3x4xf32>) -> tensor<4x6xf32>
// CHECK-NEXT: "func.return"(%[[R]])
"func.func"() <{function_type = (tensor<2x3x4xf32>) -> tensor<4x6xf32>, sym_name = "compose_reshapes"}> ({
^bb0(%arg0: tensor<2x3x4xf32>):
  %0 = "sparsec.reshape"(%arg0) <{shape = array<i64: 24>}> : (tensor<2x3x4xf32>) -> tensor<24xf32>
  %1 = "sparsec.reshape"(%0) <{shape = array<i64: 6, 4>}> : (tensor<24xf32>) -> tensor<6x4xf32>
  %2 = "sparsec.reshape"(%1) <{shape = array<i64: 4, 6>}> : (tensor<6x4xf32>) -> tensor<4x6xf32>
  "func.return"(%2) : (tensor<4x6xf32>) -> ()
}) : () -> ()

// -----

// A reshape that flattens and one that restores the shape cancel out.
// CHECK-LABEL: sym_name = "reshape_round_trip"
// CHECK-NOT: sparsec.reshape
// CHECK: "func.return"(%arg0)
"func.func"() <{function_type = (tensor<2x4xf32>) -> tensor<2x4xf32>, sym_name = "reshape_round_trip"}> ({
^bb0(%arg0: tensor<2x4xf32>):
  %0 = "sparsec.reshape"(%arg0) <{shape = array<i64: 8>}> : (tensor<2x4xf32>) -> tensor<8xf32>
  %1 = "sparsec.reshape"(%0) <{shape = array<i64: 2, 4>}> : (tensor<8xf32>) -> tensor<2x4xf32>
  "func.return"(%1) : (tensor<2x4xf32>) -> ()
}) : () -> ()

// -----

// The identity permutation is its input.
// CHECK-LABEL: sym_name = "identity_permute"
// CHECK-NOT: sparsec.permute
// CHECK: "func.return"(%arg0)
"func.func"() <{function_type = (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>, sym_name = "identity_permute"}> ({
^bb0(%arg0: tensor<2x3x4xf32>):
  %0 = "sparsec.permute"(%arg0) <{perm = array<i64: 0, 1, 2>}> : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  "func.return"(%0) : (tensor<2x3x4xf32>) -> ()
}) : () -> ()

// -----

// Two permutes compose into one: [1, 2, 0] then [0, 2, 1] is [1, 0, 2].
// CHECK-LABEL: sym_name = "compose_permutes"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: %[[P:.*]] = "sparsec.permute"(%arg0) <{perm = array<i64: 1, 0, 2>}> : (tensor<2x3x4xf32>) -> tensor<3x2x4xf32>
// CHECK-NEXT: "func.return"(%[[P]])
"func.func"() <{function_type = (tensor<2x3x4xf32>) -> tensor<3x2x4xf32>, sym_name = "compose_permutes"}> ({
^bb0(%arg0: tensor<2x3x4xf32>):
  %0 = "sparsec.permute"(%arg0) <{perm = array<i64: 1, 2, 0>}> : (tensor<2x3x4xf32>) -> tensor<3x4x2xf32>
  %1 = "sparsec.permute"(%0) <{perm = array<i64: 0, 2, 1>}> : (tensor<3x4x2xf32>) -> tensor<3x2x4xf32>
  "func.return"(%1) : (tensor<3x2x4xf32>) -> ()
}) : () -> ()

// -----

// A permute followed by its inverse vanishes (compose, then the identity folds).
// CHECK-LABEL: sym_name = "inverse_permutes"
// CHECK-NOT: sparsec.permute
// CHECK: "func.return"(%arg0)
"func.func"() <{function_type = (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>, sym_name = "inverse_permutes"}> ({
^bb0(%arg0: tensor<2x3x4xf32>):
  %0 = "sparsec.permute"(%arg0) <{perm = array<i64: 1, 2, 0>}> : (tensor<2x3x4xf32>) -> tensor<3x4x2xf32>
  %1 = "sparsec.permute"(%0) <{perm = array<i64: 2, 0, 1>}> : (tensor<3x4x2xf32>) -> tensor<2x3x4xf32>
  "func.return"(%1) : (tensor<2x3x4xf32>) -> ()
}) : () -> ()

// -----

// Dropout in eval mode (train = false) is the identity.
// CHECK-LABEL: sym_name = "eval_dropout"
// CHECK-NOT: sparsec.dropout
// CHECK: "func.return"(%arg0)
"func.func"() <{function_type = (tensor<4xf32>) -> tensor<4xf32>, sym_name = "eval_dropout"}> ({
^bb0(%arg0: tensor<4xf32>):
  %0 = "sparsec.dropout"(%arg0) <{p = 0.1 : f64, train = false}> : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%0) : (tensor<4xf32>) -> ()
}) : () -> ()

// -----

// Dropout with p = 0 is the identity even in training mode.
// CHECK-LABEL: sym_name = "zero_dropout"
// CHECK-NOT: sparsec.dropout
// CHECK: "func.return"(%arg0)
"func.func"() <{function_type = (tensor<4xf32>) -> tensor<4xf32>, sym_name = "zero_dropout"}> ({
^bb0(%arg0: tensor<4xf32>):
  %0 = "sparsec.dropout"(%arg0) <{p = 0.0 : f64, train = true}> : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%0) : (tensor<4xf32>) -> ()
}) : () -> ()

// -----

// Dropout in training mode with p > 0 is random: it stays.
// CHECK-LABEL: sym_name = "train_dropout"
// CHECK: %[[D:.*]] = "sparsec.dropout"(%arg0) <{p = 0.1 : f64, train = true}>
// CHECK: "func.return"(%[[D]])
"func.func"() <{function_type = (tensor<4xf32>) -> tensor<4xf32>, sym_name = "train_dropout"}> ({
^bb0(%arg0: tensor<4xf32>):
  %0 = "sparsec.dropout"(%arg0) <{p = 0.1 : f64, train = true}> : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%0) : (tensor<4xf32>) -> ()
}) : () -> ()

// -----

// x * 1 and 1 * x with a splat one of the same shape are x (the dead constant goes too).
// CHECK-LABEL: sym_name = "mul_one"
// CHECK-NOT: sparsec.mul
// CHECK-NOT: sparsec.constant
// CHECK: "func.return"(%arg0)
"func.func"() <{function_type = (tensor<2x4xf32>) -> tensor<2x4xf32>, sym_name = "mul_one"}> ({
^bb0(%arg0: tensor<2x4xf32>):
  %0 = "sparsec.constant"() <{value = dense<1.0> : tensor<4xf32>}> : () -> tensor<4xf32>
  %1 = "sparsec.mul"(%arg0, %0) : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %2 = "sparsec.mul"(%0, %1) : (tensor<4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  "func.return"(%2) : (tensor<2x4xf32>) -> ()
}) : () -> ()

// -----

// x + 0 and x - 0 are x.
// CHECK-LABEL: sym_name = "add_sub_zero"
// CHECK-NOT: sparsec.add
// CHECK-NOT: sparsec.sub
// CHECK: "func.return"(%arg0)
"func.func"() <{function_type = (tensor<4xf32>) -> tensor<4xf32>, sym_name = "add_sub_zero"}> ({
^bb0(%arg0: tensor<4xf32>):
  %0 = "sparsec.constant"() <{value = dense<0.0> : tensor<4xf32>}> : () -> tensor<4xf32>
  %1 = "sparsec.add"(%arg0, %0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %2 = "sparsec.sub"(%1, %0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%2) : (tensor<4xf32>) -> ()
}) : () -> ()

// -----

// x / 1 is x; 1 / x is not.
// CHECK-LABEL: sym_name = "div_one"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: %[[C:.*]] = "sparsec.constant"() <{value = dense<1.0> : tensor<4xf32>}>
// CHECK-NEXT: %[[D:.*]] = "sparsec.div"(%[[C]], %arg0)
// CHECK-NEXT: "func.return"(%arg0, %[[D]])
"func.func"() <{function_type = (tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>), sym_name = "div_one"}> ({
^bb0(%arg0: tensor<4xf32>):
  %0 = "sparsec.constant"() <{value = dense<1.0> : tensor<4xf32>}> : () -> tensor<4xf32>
  %1 = "sparsec.div"(%arg0, %0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %2 = "sparsec.div"(%0, %arg0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%1, %2) : (tensor<4xf32>, tensor<4xf32>) -> ()
}) : () -> ()

// -----

// x * 1 stays when the constant broadcasts x to a bigger type.
// CHECK-LABEL: sym_name = "mul_one_broadcasts"
// CHECK: %[[M:.*]] = "sparsec.mul"(%arg0, %{{.*}}) : (tensor<4xf32>, tensor<3x4xf32>) -> tensor<3x4xf32>
// CHECK: "func.return"(%[[M]])
"func.func"() <{function_type = (tensor<4xf32>) -> tensor<3x4xf32>, sym_name = "mul_one_broadcasts"}> ({
^bb0(%arg0: tensor<4xf32>):
  %0 = "sparsec.constant"() <{value = dense<1.0> : tensor<3x4xf32>}> : () -> tensor<3x4xf32>
  %1 = "sparsec.mul"(%arg0, %0) : (tensor<4xf32>, tensor<3x4xf32>) -> tensor<3x4xf32>
  "func.return"(%1) : (tensor<3x4xf32>) -> ()
}) : () -> ()

// -----

// neg(neg(x)) is x; neg(neg(neg(x))) is one neg.
// CHECK-LABEL: sym_name = "double_neg"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: %[[N:.*]] = "sparsec.neg"(%arg0)
// CHECK-NEXT: "func.return"(%arg0, %[[N]])
"func.func"() <{function_type = (tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>), sym_name = "double_neg"}> ({
^bb0(%arg0: tensor<4xf32>):
  %0 = "sparsec.neg"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = "sparsec.neg"(%0) : (tensor<4xf32>) -> tensor<4xf32>
  %2 = "sparsec.neg"(%1) : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%1, %2) : (tensor<4xf32>, tensor<4xf32>) -> ()
}) : () -> ()

// -----

// A cast to the type its input already has is its input; a real cast stays.
// CHECK-LABEL: sym_name = "same_type_cast"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: %[[C:.*]] = "sparsec.cast"(%arg0) : (tensor<4xf32>) -> tensor<4xi32>
// CHECK-NEXT: "func.return"(%arg0, %[[C]])
"func.func"() <{function_type = (tensor<4xf32>) -> (tensor<4xf32>, tensor<4xi32>), sym_name = "same_type_cast"}> ({
^bb0(%arg0: tensor<4xf32>):
  %0 = "sparsec.cast"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = "sparsec.cast"(%arg0) : (tensor<4xf32>) -> tensor<4xi32>
  "func.return"(%0, %1) : (tensor<4xf32>, tensor<4xi32>) -> ()
}) : () -> ()

// -----

// Ops left unused by the rewrites (and ones that were dead already) are erased.
// CHECK-LABEL: sym_name = "dead_after_rewrites"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: "func.return"(%arg0)
"func.func"() <{function_type = (tensor<4xf32>) -> tensor<4xf32>, sym_name = "dead_after_rewrites"}> ({
^bb0(%arg0: tensor<4xf32>):
  %0 = "sparsec.tanh"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = "sparsec.neg"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  %2 = "sparsec.neg"(%1) : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%2) : (tensor<4xf32>) -> ()
}) : () -> ()
