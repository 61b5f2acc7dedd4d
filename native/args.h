// Argument readers. The TypeScript layer validates everything first; these only keep C++ safe
// when a wrong JS type gets through (TypeError) or a size is negative (RangeError).
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace dmabuf {

bool HasArg(const Napi::CallbackInfo &info, size_t index);

// A number in int32 range (fds).
int FdArg(const Napi::CallbackInfo &info, size_t index);
// A number, as int64 (fractions truncated).
int64_t IntArg(const Napi::CallbackInfo &info, size_t index);
// A number in [INT32_MIN, UINT32_MAX], as the u32 bit pattern (flags fields).
uint32_t U32Arg(const Napi::CallbackInfo &info, size_t index);
// A non-negative number (lengths, offsets).
uint64_t SizeArg(const Napi::CallbackInfo &info, size_t index);
// A number or a bigint, as the u64 bit pattern (flags that may exceed 2^53 under test).
uint64_t U64Arg(const Napi::CallbackInfo &info, size_t index);
std::string StringArg(const Napi::CallbackInfo &info, size_t index);

// The same readers for a property of an options/item object; `where` names it in messages.
int64_t IntProp(Napi::Object object, const char *key, const char *where);
uint64_t SizeProp(Napi::Object object, const char *key, const char *where);

}  // namespace dmabuf
