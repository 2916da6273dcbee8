// Errors as values: Status and Expected<T>, with macros that keep call sites short.
// Messages say what was expected, what was found and where (file, node, JSON path);
// the source location of the HQ_ERROR that made a Status is kept for `-v` logs.
#pragma once

#include <cassert>
#include <memory>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace hq {

/// What kind of failure; tools map these to exit codes (see exitCodeFor).
enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,  ///< bad option or parameter value
  kNotFound,         ///< missing file or name
  kParse,            ///< malformed file contents (protobuf, JSON, IDX, ...)
  kUnsupported,      ///< valid input that hq does not handle (op, attribute, dtype)
  kShape,            ///< shapes or dtypes that do not fit together
  kData,             ///< bad numbers in data (NaN, out of range)
  kIo,               ///< read/write failure
  kInternal,         ///< a bug in hq
};

const char* errorCodeName(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message, const char* file = nullptr, int line = 0);

  static Status ok() { return Status(); }
  bool isOk() const { return state_ == nullptr; }
  ErrorCode code() const { return state_ ? state_->code : ErrorCode::kOk; }
  const std::string& message() const;
  /// "lib/ir/onnx_import.cpp:120" or "" when unknown.
  std::string location() const;

  /// Prefix the message with context ("model.onnx: " + message). Returns *this; on a
  /// temporary it returns a copy, so `HQ_RETURN_IF_ERROR(f().addContext(...))` never
  /// binds a reference to a dead temporary.
  Status& addContext(const std::string& prefix) &;
  Status addContext(const std::string& prefix) && {
    addContext(prefix);  // *this is an lvalue here: the & overload
    return std::move(*this);
  }

 private:
  struct State {
    ErrorCode code;
    std::string message;
    const char* file;
    int line;
  };
  std::shared_ptr<State> state_;
};

/// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Expected(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).isOk() && "Expected<T> built from an OK status");
  }

  bool isOk() const { return v_.index() == 0; }
  explicit operator bool() const { return isOk(); }
  const Status& status() const {
    static const Status kOk;
    return isOk() ? kOk : std::get<Status>(v_);
  }
  Status takeStatus() { return isOk() ? Status() : std::move(std::get<Status>(v_)); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace hq

/// Make an error Status with a fmt-style message and the current source location.
#define HQ_ERROR(code, ...) \
  ::hq::Status(::hq::ErrorCode::code, ::fmt::format(__VA_ARGS__), __FILE__, __LINE__)

#define HQ_CONCAT_INNER(a, b) a##b
#define HQ_CONCAT(a, b) HQ_CONCAT_INNER(a, b)

/// Return the Status of `expr` (a Status or Expected) when it is an error.
#define HQ_RETURN_IF_ERROR(expr)                                  \
  do {                                                            \
    auto&& hq_status_or_ = (expr);                                \
    if (!hq_status_or_.isOk()) return ::hq::detail::toStatus(hq_status_or_); \
  } while (0)

/// `HQ_ASSIGN_OR_RETURN(auto x, makeX());` declares x from an Expected or returns its error.
#define HQ_ASSIGN_OR_RETURN(lhs, expr) \
  HQ_ASSIGN_OR_RETURN_IMPL(HQ_CONCAT(hq_expected_, __LINE__), lhs, expr)
#define HQ_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.isOk()) return tmp.takeStatus();      \
  lhs = std::move(tmp).value()

namespace hq::detail {
inline Status toStatus(const Status& s) { return s; }
template <typename T>
Status toStatus(const Expected<T>& e) { return e.status(); }
}  // namespace hq::detail
