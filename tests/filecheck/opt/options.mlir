// stdin input, --list-passes, --elide-resources and --no-verify.
// RUN: sparsec opt - -p cse < %s | filecheck %s --check-prefix=STDIN
// RUN: sparsec opt --list-passes | filecheck %s --check-prefix=LIST
// RUN: sparsec opt %s --elide-resources | filecheck %s --check-prefix=ELIDE
// RUN: sparsec opt %s | sparsec opt - | filecheck %s --check-prefix=KEEP
// RUN: sed 's/axis = 0/axis = 5/' %s > %t
// RUN: not sparsec opt %t 2>&1 | filecheck %s --check-prefix=INVALID
// RUN: sparsec opt %t --no-verify -p cse | filecheck %s --check-prefix=NOVERIFY

// STDIN: sym_name = "f"
// STDIN-COUNT-1: "sparsec.exp"
// STDIN-NOT: "sparsec.exp"

// LIST: Available passes:
// LIST: canonicalize {{.*}}Simplify
// LIST-NEXT: max-iterations: int = 10
// LIST-NEXT: fold-limit: int = 1024
// LIST: cse {{.*}}Merge pure ops
// LIST: dce {{.*}}Erase pure ops

// ELIDE: dense_resource<bias> : tensor<4xf32>
// ELIDE-NOT: 0x04000000

// KEEP: dialect_resources
// KEEP-NEXT: builtin: {
// KEEP-NEXT: bias: "0x040000000000803F0000803F0000803F0000803F"

// INVALID: options.mlir.tmp:39:3: 'sparsec.softmax' op axis 5 is out of range for rank 1
// INVALID-NOT: Traceback

// NOVERIFY: "sparsec.softmax"(%arg0) <{axis = 5}>

"func.func"() <{function_type = (tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>), sym_name = "f"}> ({
^bb0(%arg0: tensor<4xf32>):
  %0 = "sparsec.constant"() <{value = dense_resource<bias> : tensor<4xf32>}> : () -> tensor<4xf32>
  %1 = "sparsec.exp"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  %2 = "sparsec.exp"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  %3 = "sparsec.add"(%1, %0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %4 = "sparsec.softmax"(%arg0) <{axis = 0}> : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%3, %2, %4) : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> ()
}) : () -> ()
{-#
  dialect_resources: {
    builtin: {
      bias: "0x040000000000803F0000803F0000803F0000803F"
    }
  }
#-}
