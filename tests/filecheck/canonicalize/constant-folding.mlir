// RUN: sparsec opt %s -p canonicalize --split-input-file | filecheck %s
// RUN: sparsec opt %s -p "canonicalize{fold-limit=2}" --split-input-file \
// RUN:   | filecheck %s --check-prefix=LIMIT

// Pure ops on constants fold into one inline constant; the inputs die.
// CHECK-LABEL: sym_name = "fold_chain"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: %[[C:.*]] = "sparsec.constant"() <{value = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>}>
// CHECK-NEXT: %[[M:.*]] = "sparsec.mul"(%arg0, %[[C]])
// CHECK-NEXT: "func.return"(%[[M]])
// A limit of 2 elements is too small for the 4-element result: nothing folds.
// LIMIT-LABEL: sym_name = "fold_chain"
// LIMIT: "sparsec.add"
// LIMIT: "sparsec.neg"
"func.func"() <{function_type = (tensor<4xf32>) -> tensor<4xf32>, sym_name = "fold_chain"}> ({
^bb0(%arg0: tensor<4xf32>):
  %0 = "sparsec.constant"() <{value = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>}> : () -> tensor<4xf32>
  %1 = "sparsec.constant"() <{value = dense<-2.0> : tensor<4xf32>}> : () -> tensor<4xf32>
  %2 = "sparsec.add"(%0, %1) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %3 = "sparsec.neg"(%2) : (tensor<4xf32>) -> tensor<4xf32>
  %4 = "sparsec.add"(%3, %1) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %5 = "sparsec.neg"(%4) : (tensor<4xf32>) -> tensor<4xf32>
  %6 = "sparsec.mul"(%arg0, %5) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%6) : (tensor<4xf32>) -> ()
}) : () -> ()

// -----

// Shape ops and integer casts fold too (a reshaped, cast index table).
// CHECK-LABEL: sym_name = "fold_shape_and_cast"
// CHECK-NEXT: %[[C:.*]] = "sparsec.constant"() <{value = dense<{{\[\[}}0, 1], [2, 3]]> : tensor<2x2xi32>}>
// CHECK-NEXT: "func.return"(%[[C]])
"func.func"() <{function_type = () -> tensor<2x2xi32>, sym_name = "fold_shape_and_cast"}> ({
  %0 = "sparsec.constant"() <{value = dense<[0, 1, 2, 3]> : tensor<4xi64>}> : () -> tensor<4xi64>
  %1 = "sparsec.reshape"(%0) <{shape = array<i64: 2, 2>}> : (tensor<4xi64>) -> tensor<2x2xi64>
  %2 = "sparsec.cast"(%1) : (tensor<2x2xi64>) -> tensor<2x2xi32>
  "func.return"(%2) : (tensor<2x2xi32>) -> ()
}) : () -> ()

// -----

// Results over 1024 elements never fold: weights stay out of the IR text.
// CHECK-LABEL: sym_name = "no_big_constants"
// CHECK: "sparsec.broadcast_to"
// CHECK-NOT: dense<[
"func.func"() <{function_type = () -> tensor<64x64xf32>, sym_name = "no_big_constants"}> ({
  %0 = "sparsec.constant"() <{value = dense<0.5> : tensor<64xf32>}> : () -> tensor<64xf32>
  %1 = "sparsec.broadcast_to"(%0) <{shape = array<i64: 64, 64>}> : (tensor<64xf32>) -> tensor<64x64xf32>
  "func.return"(%1) : (tensor<64x64xf32>) -> ()
}) : () -> ()

// -----

// A small result computed from a weight in a resource blob folds inline.
// CHECK-LABEL: sym_name = "fold_from_resource"
// CHECK-NEXT: %[[C:.*]] = "sparsec.constant"() <{value = dense<[3.0, 7.0]> : tensor<2xf32>}>
// CHECK-NEXT: "func.return"(%[[C]])
"func.func"() <{function_type = () -> tensor<2xf32>, sym_name = "fold_from_resource"}> ({
  %0 = "sparsec.constant"() <{value = dense_resource<w> : tensor<2x2xf32>}> : () -> tensor<2x2xf32>
  %1 = "sparsec.reduce"(%0) <{axes = array<i64: 1>, keepdim = false, kind = "sum"}> : (tensor<2x2xf32>) -> tensor<2xf32>
  "func.return"(%1) : (tensor<2xf32>) -> ()
}) : () -> ()
{-#
  dialect_resources: {
    builtin: {
      w: "0x040000000000803F000000400000404000008040"
    }
  }
#-}

// -----

// Dropout in training mode is random: it is not folded even on a constant.
// CHECK-LABEL: sym_name = "no_random_folding"
// CHECK: "sparsec.dropout"
"func.func"() <{function_type = () -> tensor<4xf32>, sym_name = "no_random_folding"}> ({
  %0 = "sparsec.constant"() <{value = dense<1.0> : tensor<4xf32>}> : () -> tensor<4xf32>
  %1 = "sparsec.dropout"(%0) <{p = 0.5 : f64, train = true}> : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%1) : (tensor<4xf32>) -> ()
}) : () -> ()
